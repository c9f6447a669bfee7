"""`imagechat-server` in a process of its own, as the chaos tests run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field

import httpx

from imagechat_tui.protocol.models import Role
from imagechat_tui.server import admin
from imagechat_tui.server.database import Database

from ..redis_server import free_port


@dataclass
class ServerProcess:
    """`imagechat-server` in a process of its own, on a fixed port so that it can come back on it."""

    db: Database
    database_url: str
    options: tuple[str, ...] = ()
    tenants: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imagechat_tui.server.cli", "--database-url", self.database_url,
             "--port", str(self.port), "--write-rate", "1000", "--write-burst", "1000", *self.options],
            stdout=subprocess.DEVNULL)
        async with httpx.AsyncClient() as http:
            async def healthy() -> bool:
                try:
                    return (await http.get(self.url + "/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            async with asyncio.timeout(20):
                while not await healthy():
                    assert self.process.poll() is None, "the server process exited"
                    await asyncio.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown, no close frames."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    async def token(self, user: str, name: str, role: Role = "member", tenant: str = "acme") -> str:
        if tenant not in self.tenants:
            self.tenants[tenant] = await admin.create_tenant(self.db, tenant)
        return (await admin.create_token(self.db, tenant, user, name, role))[1]
