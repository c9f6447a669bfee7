"""A rolling restart loses nothing: SIGTERM makes a server stop accepting, close its live clients
with 1012 and finish its writes; the sync engine goes at once to another process of the cluster."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imagechat_tui.client.engine import LinkChanged, LinkState, Notice, SyncEngine
from imagechat_tui.client.errors import ClientError

from .conftest import IMAGE, wait_for
from .redis_server import RedisServer

SERVER = [sys.executable, "-m", "imagechat_tui.server.cli"]


def admin(data_dir: Path, *args: str) -> str:
    done = subprocess.run([*SERVER, "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def start_server(data_dir: Path, redis_url: str, port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """One process of the cluster, configured by the environment as a systemd unit would."""
    env = os.environ | {"IMAGECHAT_DATA_DIR": str(data_dir), "IMAGECHAT_REDIS_URL": redis_url,
                        "IMAGECHAT_PORT": str(port), "IMAGECHAT_WRITE_RATE": "1000", "IMAGECHAT_WRITE_BURST": "1000"}
    proc = subprocess.Popen(SERVER, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)  # type: ignore[union-attr]
    match = re.fullmatch(r"imagechat-server serving on (http://127\.0\.0\.1:\d+)\n", line)
    assert match, line + proc.stderr.read()  # type: ignore[union-attr]
    return proc, match.group(1)


class Offline:
    """The longest time an engine was not online, measured from its link notices."""

    def __init__(self, engine: SyncEngine) -> None:
        self.longest = 0.0
        self.reasons: list[str] = []
        self._since: float | None = None
        engine.add_listener(self)

    def __call__(self, notice: Notice) -> None:
        if not isinstance(notice, LinkChanged):
            return
        now = asyncio.get_running_loop().time()
        if notice.link.state is LinkState.ONLINE and self._since is not None:
            self.longest = max(self.longest, now - self._since)
            self._since = None
        elif notice.link.state is not LinkState.ONLINE and self._since is None:
            self._since = now
            self.reasons.append(notice.link.reason)


async def test_sigterm_during_a_write_stream_loses_nothing_and_the_engine_is_back_within_2_s(
        tmp_path: Path, engines: Callable[..., Any], own_redis: RedisServer) -> None:
    admin(tmp_path, "tenant", "create", "acme")
    reader_token = admin(tmp_path, "token", "create", "--tenant", "acme", "--user", "u_r", "--name", "Reader")
    writer_token = admin(tmp_path, "token", "create", "--tenant", "acme", "--user", "u_w", "--name", "Writer")
    (first, first_url), (second, second_url) = [await start_server(tmp_path, own_redis.url) for _ in range(2)]
    try:
        reader = await engines([first_url, second_url], reader_token)
        writer = await engines([first_url, second_url], writer_token)
        for engine in (reader, writer):
            engine.subscribe(IMAGE)
        await wait_for(lambda: all(e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded
                                   for e in (reader, writer)), 10, "both engines online on the first server")
        offline = Offline(reader)
        marker = await writer.create_marker(IMAGE, 50, 50, "the stream")
        acked = [marker.comments[0].id]
        after_restart: list[str] = []

        async def stream() -> None:
            """About 50 writes a second, bounded; a write refused while offline is not acknowledged."""
            for i in range(1000):
                if len(after_restart) >= 20:
                    return
                try:
                    comment = await writer.add_comment(IMAGE, marker.id, f"write {i}")
                except ClientError:
                    pass
                else:
                    (after_restart if first.poll() is not None else acked).append(comment.id)
                await asyncio.sleep(0.02)

        writing = asyncio.create_task(stream())
        await wait_for(lambda: len(acked) >= 20 or writing.done(), 10, "writes acknowledged by the first server")
        first.send_signal(signal.SIGTERM)
        await wait_for(lambda: reader.server_url == second_url and reader.link.state is LinkState.ONLINE, 2,
                       "the reader online on the second server")
        assert await asyncio.wait_for(asyncio.to_thread(first.wait), 15) in (0, -signal.SIGTERM)
        await asyncio.wait_for(writing, 30)
        assert "the server is restarting" in offline.reasons
        print(f"offline {offline.longest * 1000:.0f} ms; {len(acked)} + {len(after_restart)} writes acknowledged")
        assert offline.longest < 2.0, offline.longest
        acked += after_restart

        page = await reader.rest.chats(IMAGE)
        ids = [c.id for m in page.markers for c in m.comments]
        assert all(ids.count(i) == 1 for i in acked), "an acknowledged write is missing or present twice"
        await wait_for(lambda: reader.state(IMAGE).seq == page.seq, 10, "the reader at the server's seq")
        assert [c.id for m in reader.markers(IMAGE) for c in m.comments] == ids
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
