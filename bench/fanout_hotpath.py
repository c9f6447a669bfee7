"""The live fan-out's CPU per delivery, without HTTP, storage or pub/sub: the server runs in this
process with N real loopback subscribers (in a child process, bench/fanout.py's probe process),
and events are handed straight to `Hub.on_message`; the server thread's own CPU time (user and
system apart, from getrusage) is read around each call and over the whole run. Repeatable on a
loaded machine, as it counts CPU time, not wall time.

    python bench/fanout_hotpath.py                          # N = 2000, 3 rounds of 200 events
    python bench/fanout_hotpath.py --baseline main          # the same for main's code first

Prints, per round: user and system µs per delivery inside `on_message`, and the whole thread's
µs per delivery (the event loop, timers and pings included). The system part is mostly the
kernel's send() to a loopback socket (with TCP_NODELAY, as asyncio sets it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import fanout
from upload import serving

import imagechat_tui
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


async def measure(n: int, events: int, rounds: int) -> None:
    app = ImageChatServer(ServerConfig(sqlite_url(Path(tempfile.mkdtemp(prefix="imagechat-hotpath-")))))
    runner, task = await serving(app)
    try:
        await admin.create_tenant(app.db, "bench")
        _, token = await admin.create_token(app.db, "bench", "u_sub", "Sub", "member")
        target = fanout.Ours("asyncio")
        target.url, target._token = runner.url, token
        probes = await fanout.Probes.start(target)
        for _ in range(n):
            await probes.add()
        (topic,) = app.hub.topics
        seq = 1000
        for _ in range(rounds):
            inside = [0.0, 0.0]
            start = _cpu()
            for _ in range(events):
                seq += 1
                event = json.dumps({"type": "image-chat-updated", "image": fanout.IMAGE, "seq": seq,
                                    "text": fanout.FILLER * 6})  # about the bytes of a comment-added event
                before = _cpu()
                app.hub.on_message(topic, seq, event)
                after = _cpu()
                inside = [inside[0] + after[0] - before[0], inside[1] + after[1] - before[1]]
                await asyncio.sleep(0.003)  # let the subscribers read, and the loop run its timers
            end = _cpu()
            per = 1e6 / (events * n)
            print(f"  on_message: user {inside[0] * per:5.2f} µs, system {inside[1] * per:5.2f} µs per delivery; "
                  f"whole thread {(end[0] - start[0] + end[1] - start[1]) * per:5.2f} µs", flush=True)
        frames = (await probes.report())["frames"]
        print(f"  {frames} of {rounds * events * n} frames received")
        await probes.stop()
    finally:
        runner.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--events", type=int, default=200, help="events per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a git commit to measure first, from an export of it")
    args = parser.parse_args()
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": fanout.export_tree(args.baseline)}
        again = [sys.executable, __file__, "--subscribers", str(args.subscribers), "--events", str(args.events),
                 "--rounds", str(args.rounds)]
        subprocess.run(again, env=env, check=True)
    print(f"{args.subscribers} subscribers, the server's code from {Path(imagechat_tui.__file__).parent.parent}:",
          flush=True)
    asyncio.run(measure(args.subscribers, args.events, args.rounds))


if __name__ == "__main__":
    main()
