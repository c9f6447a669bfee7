"""deploy/haproxy.cfg in front of two server processes (SQLite shared, Redis of the test's own):
viewers' engines through it see each other's changes across processes, and a rolling restart of
both processes during a steady write stream loses nothing and keeps no client offline for 2 s."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from imagechat_tui.client.engine import LinkState
from imagechat_tui.client.errors import ClientError

from .conftest import IMAGE, services_unavailable, wait_for
from .redis_server import RedisServer, free_port
from .test_rolling_restart import Offline, admin, start_server

CONFIG = Path(__file__).parent.parent / "deploy" / "haproxy.cfg"


class HAProxy:
    """deploy/haproxy.cfg as shipped, only its addresses moved to free loopback ports and its
    maxconn cut to what a test's open-files limit allows."""

    def __init__(self, tmp_path: Path, backends: list[int]) -> None:
        self.port, self.stats = free_port(), free_port()
        text = CONFIG.read_text().replace("bind :8080", f"bind 127.0.0.1:{self.port}")
        text = re.sub(r"maxconn \d+", "maxconn 1000", text)
        text = text.replace("bind 127.0.0.1:8404", f"bind 127.0.0.1:{self.stats}")
        servers = iter(backends)
        text = re.sub(r"(server imagechat\d+) 127\.0\.0\.1:\d+", lambda m: f"{m.group(1)} 127.0.0.1:{next(servers)}",
                      text)
        assert next(servers, None) is None, "one server line per process"
        config = tmp_path / "haproxy.cfg"
        config.write_text(text)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)

    async def up(self) -> int:
        """How many servers HAProxy's health checks have in rotation."""
        assert self.process.poll() is None, self.process.communicate()[1]
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                csv = (await http.get(f"http://127.0.0.1:{self.stats}/stats;csv")).text
        except httpx.ConnectError:
            return 0  # not listening yet
        return sum(1 for line in csv.splitlines() if line.startswith("imagechat,imagechat") and ",UP," in line)

    async def wait_up(self, count: int, timeout: float = 15) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.up() != count:
            assert loop.time() < deadline, f"HAProxy has not {count} servers up after {timeout} s"
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


async def test_a_rolling_restart_behind_haproxy_loses_nothing_and_no_client_is_offline_2_s(
        tmp_path: Path, engines: Callable[..., Any], own_redis: RedisServer) -> None:
    if shutil.which("haproxy") is None:
        services_unavailable("haproxy (Debian package haproxy)")
    admin(tmp_path, "tenant", "create", "acme")
    tokens = [admin(tmp_path, "token", "create", "--tenant", "acme", "--user", f"u_{i}", "--name", f"User {i}")
              for i in range(3)]
    ports = [free_port(), free_port()]
    procs = [(await start_server(tmp_path, own_redis.url, port))[0] for port in ports]
    proxy = HAProxy(tmp_path, ports)
    try:
        await proxy.wait_up(2)
        writer, *readers = [await engines(proxy.url, token) for token in tokens]
        for engine in (writer, *readers):
            engine.subscribe(IMAGE)
        await wait_for(lambda: all(e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded
                                   for e in (writer, *readers)), 10, "every engine online through HAProxy")
        offline = [Offline(engine) for engine in (writer, *readers)]
        marker = await writer.create_marker(IMAGE, 50, 50, "the stream")
        await wait_for(lambda: all(marker.id in r.state(IMAGE).markers for r in readers), 2,
                       "live delivery to every reader, whichever process it is on")
        acked = [marker.comments[0].id]
        restarted = asyncio.Event()

        async def stream() -> None:
            """About 50 writes a second, bounded, until both processes have been restarted."""
            for i in range(3000):
                if restarted.is_set():
                    return
                try:
                    acked.append((await writer.add_comment(IMAGE, marker.id, f"write {i}")).id)
                except ClientError:
                    pass  # refused while offline: not acknowledged
                await asyncio.sleep(0.02)

        writing = asyncio.create_task(stream())
        for n, port in enumerate(ports):
            await wait_for(lambda: len(acked) >= 10 * (n + 1) or writing.done(), 10, "writes acknowledged")
            procs[n].send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(asyncio.to_thread(procs[n].wait), 15) in (0, -signal.SIGTERM)
            procs[n] = (await start_server(tmp_path, own_redis.url, port))[0]
            await proxy.wait_up(2)  # back in rotation before the next one goes
        before = len(acked)
        await wait_for(lambda: len(acked) >= before + 10 or writing.done(), 10, "writes after both restarts")
        restarted.set()
        await asyncio.wait_for(writing, 10)

        longest = max(o.longest for o in offline)
        print(f"{len(acked)} writes acknowledged; longest offline {longest * 1000:.0f} ms")
        assert longest < 2.0
        assert any("the server is restarting" in o.reasons for o in offline)
        page = await writer.rest.chats(IMAGE)
        ids = [c.id for m in page.markers for c in m.comments]
        assert all(ids.count(i) == 1 for i in acked), "an acknowledged write is missing or present twice"
        await wait_for(lambda: all(e.state(IMAGE).seq == page.seq for e in (writer, *readers)), 10,
                       "every engine at the server's seq")
        for engine in (writer, *readers):
            assert [c.id for m in engine.markers(IMAGE) for c in m.comments] == ids
    finally:
        proxy.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
