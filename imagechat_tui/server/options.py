"""Every option of `imagechat-server serve`, in one table: its flag, and the environment variable
that gives it when the flag is absent (a container or a systemd unit then needs no flags)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_NOTIFICATIONS_KEPT,
    DEFAULT_NOTIFICATIONS_READ_DAYS,
    DEFAULT_PORT,
    default_data_dir,
)
from .connections import RESERVED_FILES

ENV_PREFIX = "IMAGECHAT_"
LOOPS = ("asyncio", "uvloop")
"""The event loops the server runs on, by uvicorn's names for them. asyncio's is the default
whatever is installed (not uvicorn's "auto", which takes uvloop where installed): the live fan-out's
straight socket writes are for asyncio's selector transports only, so uvloop measured slower here
(README "Benchmark"), and it reports running out of file descriptors in its own way, without the
rate-limited line that `connections.AcceptErrorLog` writes."""


@dataclass(frozen=True, slots=True)
class Option:
    flag: str
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        """`--max-connections` is `IMAGECHAT_MAX_CONNECTIONS`: the one rule for every option."""
        return ENV_PREFIX + self.flag.removeprefix("--").replace("-", "_").upper()

    def add(self, parser: argparse.ArgumentParser, environ: Mapping[str, str], *, defaults: bool = True) -> None:
        """Add the flag; its default is the environment's value if set (flag over environment).
        Without `defaults` (a subcommand's copy) it sets nothing unless given."""
        default = self._from_env(parser, environ) if defaults else argparse.SUPPRESS
        parser.add_argument(self.flag, type=self.type, default=default, metavar=self.metavar, choices=self.choices,
                            help=f"{self.help} [env {self.env}]")

    def _from_env(self, parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.env)
        if raw is None:
            return self.default
        try:
            value = self.type(raw)
        except ValueError:
            parser.error(f"{self.env}={raw!r} is not a valid {self.flag}")
        if self.choices is not None and value not in self.choices:
            parser.error(f"{self.env}={raw!r}: choose from {', '.join(self.choices)}")
        return value


STORAGE = (
    Option("--data-dir", f"where the SQLite database lives (default: {default_data_dir()})"),
    Option("--database-url", "any SQLAlchemy async URL, e.g. postgresql+asyncpg://host/db (default: SQLite "
           "in --data-dir)"),
)
"""Accepted before and after an admin subcommand too."""

def count(raw: str) -> int:
    """A whole number, 0 or more."""
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


RETENTION = (
    Option("--notifications-kept", "each user's newest notifications kept, older ones deleted "
           f"(default {DEFAULT_NOTIFICATIONS_KEPT}; 0: all)", count, DEFAULT_NOTIFICATIONS_KEPT, "N"),
    Option("--notifications-read-days", "days a read notification is kept "
           f"(default {DEFAULT_NOTIFICATIONS_READ_DAYS}; 0: until --notifications-kept drops it)", count,
           DEFAULT_NOTIFICATIONS_READ_DAYS, "DAYS"),
)
"""Served, and accepted after `notifications prune` too."""

SERVE = (
    Option("--host", f"address to listen on (default {DEFAULT_HOST})", default=DEFAULT_HOST),
    Option("--port", f"port (default {DEFAULT_PORT}; 0 picks one)", int, DEFAULT_PORT),
    Option("--redis-url", "fan out through Redis pub/sub, for several server processes"),
    Option("--certfile", "TLS certificate (PEM): serve HTTPS and WSS"),
    Option("--keyfile", "TLS private key (PEM)"),
    Option("--write-rate", "writes per second per user, across all processes with --redis-url (default 10)",
           float, 10.0),
    Option("--write-burst", "writes per user at once (default 60)", float, 60.0),
    Option("--metrics-token", "serve /metrics to this bearer token (without one, /metrics is off)"),
    Option("--max-connections", "open connections beyond which new ones are answered 503 "
           f"(default: the open-files limit less {RESERVED_FILES})", int, metavar="N"),
    Option("--header-timeout", "time for a request head or WebSocket handshake to arrive, else 408 "
           f"(default {DEFAULT_HEADER_TIMEOUT:g})", float, DEFAULT_HEADER_TIMEOUT, "SECONDS"),
    Option("--body-timeout", f"time for a request body to arrive, else 408 (default {DEFAULT_BODY_TIMEOUT:g})",
           float, DEFAULT_BODY_TIMEOUT, "SECONDS"),
    Option("--max-header-bytes", f"size of a request head, else 431 (default {DEFAULT_MAX_HEADER_BYTES})", int,
           DEFAULT_MAX_HEADER_BYTES, "BYTES"),
    Option("--loop", "event loop: asyncio's own, or uvloop if installed (not on Windows) (default asyncio)",
           default="asyncio", choices=LOOPS),
    Option("--exit-when-idle", "exit after this long with no connection and no request (the embedded server)",
           float, metavar="SECONDS"),
    Option("--log-level", "how much to log (default warning)", default="warning",
           choices=("debug", "info", "warning", "error")),
    *RETENTION,
)


def without_options(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment less every option's variable: for a server whose settings must all come
    from its flags (the viewer's own local one, which an operator's shell must not redirect)."""
    names = {option.env for option in STORAGE + SERVE}
    return {name: value for name, value in environ.items() if name not in names}


def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...], *, defaults: bool = True,
                environ: Mapping[str, str] | None = None) -> None:
    for option in options:
        option.add(parser, os.environ if environ is None else environ, defaults=defaults)
