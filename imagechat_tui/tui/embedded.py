"""The embedded default: a local server that the first viewer starts and every viewer shares."""

from __future__ import annotations

import asyncio
import fcntl
import getpass
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ..server import admin
from ..server.config import DEFAULT_HOST, DEFAULT_PORT, default_data_dir, sqlite_url
from ..server.database import Database
from ..server.schema import prepare

LOCAL_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
IDLE_EXIT = 600
"""Seconds without any viewer after which the embedded server exits by itself."""
LOCAL_TENANT = "local"


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(data_dir: Path, url: str = LOCAL_URL, port: int = DEFAULT_PORT, wait: float = 15.0) -> bool:
    """Start a detached local server unless one answers; True once one does."""
    if answers(url):
        return True
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "server.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", str(data_dir), "--host", DEFAULT_HOST,
             "--port", str(port), "--exit-when-idle", str(IDLE_EXIT)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if answers(url):
            return True
        time.sleep(0.1)
    return False


def local_token(data_dir: Path | None = None) -> str:
    """This user's token on the local server, made on first use and kept in the data directory
    (readable by the user alone). Terminals starting together agree through a file lock."""
    data_dir = data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "local-token"
    with open(data_dir / "local-token.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path.read_text().strip()
        token = asyncio.run(_make_token(data_dir))
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        return token


async def _make_token(data_dir: Path) -> str:
    db = Database(sqlite_url(data_dir))
    try:
        await db.run(prepare)
        try:
            await admin.create_tenant(db, LOCAL_TENANT)
        except admin.AdminError:
            pass  # made by an earlier version of this file
        user = getpass.getuser()
        _, token = await admin.create_token(db, LOCAL_TENANT, user, user, "admin")
        return token
    finally:
        await db.dispose()
