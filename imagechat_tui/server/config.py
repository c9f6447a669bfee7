"""Server settings, with the defaults an embedded single-user server wants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_HEADER_BYTES = 32 * 1024
DEFAULT_NOTIFICATIONS_KEPT = 1000
DEFAULT_NOTIFICATIONS_READ_DAYS = 90


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("imagechat-tui", appauthor=False))


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'imagechat.db'}"


@dataclass(slots=True)
class ServerConfig:
    database_url: str
    write_rate: float = 10.0
    """Writes per second a user may make, sustained."""
    write_burst: float = 60.0
    """Writes a user may make at once."""
    revocation_poll: float = 0.25
    """Seconds between checks for revoked tokens, which close their open WebSockets."""
    usage_flush: float = 5.0
    """Seconds between writes of the in-memory usage counters to the database."""
    receipt_days: int = 7
    """How long a broadcastId is remembered for idempotent retries."""
    notifications_kept: int = DEFAULT_NOTIFICATIONS_KEPT
    """Each user's newest notifications kept (0: all); see `notification_pruning`."""
    notifications_read_days: int = DEFAULT_NOTIFICATIONS_READ_DAYS
    """Days a read notification is kept (0: until the cap)."""
    checkpoint_every: float = 1.0
    """Seconds between SQLite WAL checkpoints, which writes on the event loop leave to the
    database thread."""
    metrics_token: str | None = None
    """The bearer token `/metrics` asks for; without one, `/metrics` is off."""
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    """Seconds a request body may take to arrive, once its head has (else 408)."""
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    """Seconds a request head (a WebSocket handshake's too) may take to arrive (else 408)."""
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    """Bytes a request head may take (else 431)."""
    max_connections: int | None = None
    """Open connections beyond which new ones are answered 503; None: the open-files limit less
    a reserve (`connections.default_max_connections`)."""
