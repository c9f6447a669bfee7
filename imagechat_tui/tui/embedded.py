"""The embedded default: a local server per user, that the user's first viewer starts and every
viewer of that user shares, and restarts when it is gone."""

from __future__ import annotations

import asyncio
import fcntl
import getpass
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..client.errors import ClientError
from ..server import admin
from ..server.config import DEFAULT_HOST, DEFAULT_PORT, default_data_dir, sqlite_url
from ..server.database import Database
from ..server.options import without_options
from ..server.schema import prepare

IDLE_EXIT = 600
"""Seconds without any viewer after which the embedded server exits by itself."""
LOCAL_TENANT = "local"
START_WAIT = 15.0


class StartError(Exception):
    """The local server could not be started; the message says why and where its log is."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    """This user's own embedded server: its port is recorded in the user's data directory, so two
    users of one machine never share (or fight over) one."""

    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://{DEFAULT_HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def knows(url: str, token: str) -> bool:
    """Whether the server at `url` accepts `token`: this user's server does, another user's does not."""
    try:
        return httpx.get(url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def local_server(data_dir: Path, token: str, preferred: int = DEFAULT_PORT) -> LocalServer:
    """This user's server: the recorded port while it is this user's server or free, else `preferred`
    if free, else any free port (recorded for the next terminal). Terminals agree through a lock."""
    data_dir.mkdir(parents=True, exist_ok=True)
    record = data_dir / "server-port"
    with open(data_dir / "server-port.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = int(record.read_text()) if record.exists() and record.read_text().strip().isdigit() else None
        for port in (recorded, preferred):
            if port is not None and _usable(LocalServer(data_dir, port), token):
                break
        else:
            port = _free_port()
        if port != recorded:
            record.write_text(f"{port}\n")
        return LocalServer(data_dir, port)


def _usable(server: LocalServer, token: str) -> bool:
    if answers(server.url):
        return knows(server.url, token)
    return _bindable(server.port)  # else taken by something that is not an imagechat server


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((DEFAULT_HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((DEFAULT_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_server(server: LocalServer, wait: float = START_WAIT) -> None:
    """Start a detached local server unless one answers; raises StartError if none answers."""
    if answers(server.url):
        return
    server.data_dir.mkdir(parents=True, exist_ok=True)
    with open(server.log, "ab") as log:
        start = log.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", str(server.data_dir),
             "--host", DEFAULT_HOST, "--port", str(server.port), "--exit-when-idle", str(IDLE_EXIT)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env=without_options(os.environ),
            # Not the viewer's working directory: `-m` would import a checkout that happens to be there.
            cwd=server.data_dir,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if answers(server.url):
            return
        if process.poll() is not None and not answers(server.url):
            taken = "" if _bindable(server.port) else (
                f"; port {server.port} was taken since: start the viewer again and it picks another")
            raise StartError(f"the local server did not start ({_last_line(server.log, start)}){taken}; "
                             f"its log is {server.log}")
        time.sleep(0.1)
    raise StartError(f"the local server did not answer within {wait:.0f} s; its log is {server.log}")


async def keep_running(server: LocalServer) -> None:
    """The sync engine's hook before each connection attempt: start the server if it is gone."""
    try:
        await asyncio.to_thread(ensure_server, server)
    except StartError as exc:
        raise ClientError(str(exc)) from None


def _last_line(log: Path, start: int) -> str:
    with open(log, "rb") as f:
        f.seek(start)
        lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "it exited without a word"


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
