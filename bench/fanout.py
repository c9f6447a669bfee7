"""Live fan-out benchmark: our server against a bare `websockets` broadcast() server.

One server process; N subscribers on one image (this process is the load generator, on
loopback); writes at a steady 20/s, then as fast as they are acknowledged. Prints, per server and
N: delivery latency p50/p99 from write to receipt, delivered/expected, server CPU and RSS, idle
RSS per connection, deliveries per second per server core, frames and bytes per event; then our
figures as ratios of the reference's.

    python bench/fanout.py                      # N = 100, 1000, 2000
    python bench/fanout.py --sizes 1000 --steady 5 --burst 3 --repeat 3
    python bench/fanout.py --sizes 2000 --servers ours,reference,picows --loops asyncio,uvloop
    python bench/fanout.py --sizes 2000 --servers baseline,ours --repeat 3    # main's server vs this one

--loops runs the servers on asyncio's default event loop, uvloop's, or each in turn; --servers
picows adds the reference on picows (a Cython WebSocket implementation), and --servers baseline our
server as of another commit (--baseline, main by default), run from an export of that commit. With
several, a side-by-side table per N follows, deliveries per core also as a factor of the baseline's
on asyncio if it ran, else of ours on asyncio. "user share" is the part of the server's CPU time
spent outside the kernel: the rest is mostly the send() of each frame to a loopback socket.

With --repeat K each server is measured K times, alternating, and every figure is the median:
on two shared cores single runs vary by about 10 %.

Subscribers are plain asyncio protocols that read frames straight off the buffer, and our writer
is a bare keep-alive HTTP/1.1 client, so that the generator's own costs (which share the two cores
with the server and would count as its latency) stay far below the servers'. Latency is measured by 20 probe
subscribers in a process of their own, connected at even intervals among the others, so that they
sample every part of the fan-out order (both servers keep connection order): a generator reading
N sockets in one process would otherwise measure mostly its own queue.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

IMAGE = "sha256:" + hashlib.sha256(b"fan-out bench").hexdigest()  # new markers are on content keys only
STAMP = re.compile(rb"t=(\d+)")
HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes in base64; the answer is not checked
# A comment of the length a support chat usually has; the stamp is the write's start time.
FILLER = "The save button is cut off on narrow windows, see the right edge"


@dataclass
class Receipts:
    latencies: array = field(default_factory=lambda: array("d"))
    frames: int = 0
    events: int = 0
    bytes: int = 0

    def on_frame(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        stamps = STAMP.findall(data)
        self.frames += 1
        self.events += len(stamps)
        self.bytes += len(data)
        for stamp in stamps:
            self.latencies.append((now - int(stamp)) / 1e6)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


class Subscriber(asyncio.Protocol):
    """A WebSocket client that counts what it receives, with no task of its own and as little
    work per frame as a client can do: the handshake is written by hand and not verified, and
    frames are read straight off the buffer (a server's frames are unmasked and whole), because
    the generator's cost per frame competes with the server's for the same two cores. Measured
    here, websockets' sans-I/O parser cost the generator more CPU per event than the server spent
    sending it."""

    def __init__(self, uri: str, token: str | None, receipts: Receipts, first: bytes | None) -> None:
        parsed = parse_uri(uri)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.request = (f"GET {parsed.resource_name} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
                        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {HANDSHAKE_KEY}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{auth}\r\n").encode()
        self.receipts = receipts
        self.first = first
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self._fail(f"handshake refused: {bytes(self.buffer[:end])!r}")
                return
            del self.buffer[:end + 4]
            self.upgraded = True
            if self.first is None:
                self.ready.set_result(None)
            else:
                self._send(Opcode.TEXT, self.first)
        self._read_frames()

    def _read_frames(self) -> None:
        buffer, pos = self.buffer, 0
        while len(buffer) - pos >= 2:
            opcode, length, head = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[pos + 2:pos + 4]), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[pos + 2:pos + 10]), 10
            end = pos + head + length
            if end > len(buffer):
                break
            payload = bytes(buffer[pos + head:end])
            pos = end
            if opcode == Opcode.TEXT.value:
                if self.ready.done():
                    self.receipts.on_frame(payload)
                else:
                    self.ready.set_result(None)  # the `subscribed` answer
            elif opcode == Opcode.PING.value:
                self._send(Opcode.PONG, payload)
            elif opcode == Opcode.CLOSE.value:
                self._fail("closed by the server")
        del buffer[:pos]

    def _send(self, opcode: Opcode, payload: bytes) -> None:
        if self.transport is not None:
            self.transport.write(Frame(opcode, payload).serialize(mask=True))

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before it was ready"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class HttpWriter:
    """A keep-alive HTTP/1.1 client for the writer's POSTs, as lean as the reference's WebSocket
    writer: httpx costs about 2.3 ms of the generator's own time per request (measured here at
    20 requests a second), which would count as server latency."""

    def __init__(self, url: str, token: str) -> None:
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.headers = f"Host: {self.host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict) -> dict:
        if self.reader is None or self.reader.at_eof():  # uvicorn closes idle keep-alives after 5 s
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.writer is not None
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(data)}\r\n\r\n".encode()
                          + data)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        length = re.search(r"(?im)^content-length:\s*(\d+)", head)
        answer = await self.reader.readexactly(int(length.group(1)) if length else 0)
        if not head.startswith("HTTP/1.1 2"):
            raise RuntimeError(f"write refused: {head.splitlines()[0]} {answer!r}")
        return json.loads(answer)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Target:
    name = ""
    proc: subprocess.Popen[str]
    url = ""

    def __init__(self, loop: str) -> None:
        self.loop = loop
        """The server's event loop: "asyncio" (its default one) or "uvloop"."""

    @property
    def label(self) -> str:
        return f"{self.name} on {self.loop}"

    async def start(self) -> None: ...
    async def open_writer(self) -> None: ...
    async def write(self, text: str) -> None: ...
    async def close_writer(self) -> None: ...
    def live_uri(self) -> str: ...
    def subscribe_frame(self) -> bytes | None: ...
    def token(self) -> str | None: ...

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def spawn(args: list[str], cwd: str | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=cwd)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    url = re.search(r"(http://\S+)", line)
    if url is None:
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, url.group(1)


class Ours(Target):
    name = "imagechat"
    tree: str | None = None
    """Where the server's code is run from: this checkout's if None."""

    def __init__(self, loop: str) -> None:
        super().__init__(loop)
        self.dir = tempfile.mkdtemp(prefix="imagechat-bench-")
        self.http: HttpWriter | None = None
        self.marker_id = ""
        self._token = ""

    def _admin(self, *args: str) -> str:
        command = [sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", self.dir, *args]
        return subprocess.run(command, capture_output=True, text=True, check=True, cwd=self.tree).stdout.strip()

    async def start(self) -> None:
        self._admin("tenant", "create", "bench")
        self._token = self._admin("token", "create", "--tenant", "bench", "--user", "u_sub", "--name", "Sub")
        self.writer_token = self._admin("token", "create", "--tenant", "bench", "--user", "u_w", "--name", "Writer")
        self.proc, self.url = spawn([sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", self.dir,
                                      "--port", "0", "--write-rate", "1e9", "--write-burst", "1e9",
                                      "--loop", self.loop], cwd=self.tree)

    async def open_writer(self) -> None:
        self.http = HttpWriter(self.url, self.writer_token)
        body = {"image": IMAGE, "x": 50, "y": 50, "text": "bench", "broadcastId": str(uuid.uuid4())}
        self.marker_id = (await self.http.post("/api/v1/chats", body))["marker"]["id"]

    async def write(self, text: str) -> None:
        assert self.http is not None
        await self.http.post(f"/api/v1/chats/{self.marker_id}/comments",
                             {"text": text, "broadcastId": str(uuid.uuid4())})

    async def close_writer(self) -> None:
        if self.http is not None:
            await self.http.close()

    def live_uri(self) -> str:
        return self.url.replace("http", "ws") + "/api/v1/live"

    def subscribe_frame(self) -> bytes | None:
        return json.dumps({"type": "subscribe", "image": IMAGE, "since": None}).encode()

    def token(self) -> str | None:
        return self._token


class Baseline(Ours):
    """Our server as of another commit (`--baseline`, main by default), exported once to a
    temporary folder and run from there (`-m` puts the working folder first on the path, ahead
    of this checkout's editable install), so that today's main and this checkout are measured
    side by side, alternating, on the same machine."""

    ref = "main"

    def __init__(self, loop: str) -> None:
        super().__init__(loop)
        self.name = f"imagechat {self.ref}"
        self.tree = export_tree(self.ref)


TREES: dict[str, str] = {}


def export_tree(ref: str) -> str:
    """A temporary folder holding the `imagechat_tui` package as of git commit `ref` (once per ref)."""
    if ref not in TREES:
        TREES[ref] = tempfile.mkdtemp(prefix="imagechat-baseline-")
        root = Path(__file__).resolve().parent.parent
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "imagechat_tui"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", TREES[ref]], input=archive, check=True)
    return TREES[ref]


class Reference(Target):
    name = "reference"
    script = "reference_server.py"

    async def start(self) -> None:
        self.proc, self.url = spawn([sys.executable, str(Path(__file__).with_name(self.script)), "--loop", self.loop])
        self.seq = 0

    async def open_writer(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url.replace("http", "ws") + "/pub", compression=None)

    async def write(self, text: str) -> None:
        # The same shape and size as our comment-added event, so both servers move the same bytes.
        self.seq += 1
        comment = {"id": "c_0123456789ab", "markerId": "m_0123456789ab", "parentId": None,
                   "user": {"id": "u_w", "name": "Writer"}, "text": text, "createdAt": "2026-11-25T18:02:11.532Z",
                   "editedAt": None, "deleted": False}
        await self.ws.send(json.dumps({"image": IMAGE, "seq": self.seq, "broadcastId": str(uuid.uuid4()),
                                       "markerId": "m_0123456789ab", "type": "image-chat-updated",
                                       "change": "comment-added", "comment": comment}, separators=(",", ":")))
        await self.ws.recv()

    async def close_writer(self) -> None:
        await self.ws.close()

    def live_uri(self) -> str:
        return self.url.replace("http", "ws") + "/live"

    def subscribe_frame(self) -> bytes | None:
        return None

    def token(self) -> str | None:
        return None


class PicowsReference(Reference):
    """The same bare broadcast server on picows' Cython WebSocket implementation."""

    name = "picows reference"
    script = "reference_picows.py"


SERVERS: dict[str, type[Target]] = {"ours": Ours, "baseline": Baseline, "reference": Reference,
                                     "picows": PicowsReference}


@dataclass
class Phase:
    writes: int
    seconds: float
    latencies: list[float]
    expected: int
    delivered: int
    frames: int
    bytes: int
    cpu: float
    user: float
    rss_mb: float

    def row(self) -> dict[str, float]:
        lat = sorted(self.latencies) or [float("nan")]
        return {
            "writes/s": self.writes / self.seconds,
            "p50 ms": lat[len(lat) // 2],
            "p99 ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "delivered": self.delivered / max(1, self.expected),
            "server cpu %": 100 * self.cpu / self.seconds,
            "user share": self.user / self.cpu if self.cpu else float("nan"),
            "server rss MB": self.rss_mb,
            "deliveries/s/core": self.delivered / self.cpu if self.cpu else float("nan"),
            "frames/event": self.frames / max(1, self.delivered),
            "bytes/event": self.bytes / max(1, self.delivered),
        }


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def cpu_split(proc: psutil.Process) -> tuple[float, float]:
    """(user + system, user) CPU seconds: the user share is the Python side of a delivery, the
    rest mostly the kernel's send."""
    times = proc.cpu_times()
    return times.user + times.system, times.user


class Probes:
    """The probe subscribers' process, driven over its stdin and stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, target: Target) -> Probes:
        first = (target.subscribe_frame() or b"").decode()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--probe", target.live_uri(), target.token() or "", first,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**28)
        probes = cls(proc)
        await probes._ask("ready")
        return probes

    async def _ask(self, command: str) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await self.proc.stdout.readline())

    async def add(self) -> None:
        """One more probe subscriber, connected and subscribed before this returns."""
        await self._ask("add")

    async def reset(self) -> None:
        await self._ask("reset")

    async def report(self) -> dict:
        return await self._ask("report")

    async def stop(self) -> None:
        await self._ask("quit")
        await self.proc.wait()


async def probe_main(uri: str, token: str, first: str) -> None:
    loop = asyncio.get_running_loop()
    receipts = Receipts()
    host, port = parse_uri(uri).host, parse_uri(uri).port
    subs = []
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while command := (await reader.readline()).decode().strip():
        if command == "add":
            _, sub = await loop.create_connection(
                lambda: Subscriber(uri, token or None, receipts, first.encode() or None), host, port)
            subs.append(sub)
            await sub.ready
        elif command == "reset":
            receipts.reset()
        answer = {"latencies": list(receipts.latencies), "events": receipts.events, "frames": receipts.frames,
                  "bytes": receipts.bytes} if command == "report" else {"ok": command}
        print(json.dumps(answer), flush=True)
        if command == "quit":
            break
    for sub in subs:
        sub.close()


async def _phase(target: Target, receipts: Receipts, probes: Probes, server: psutil.Process, subscribers: int,
                 seconds: float, rate: float | None) -> Phase:
    receipts.reset()
    await probes.reset()
    cpu0 = cpu_split(server)
    start = time.perf_counter()
    writes = 0
    while time.perf_counter() - start < seconds:
        writes += 1
        await target.write(f"{FILLER} t={time.perf_counter_ns()}")
        if rate is not None:
            next_at = start + writes / rate
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    elapsed = time.perf_counter() - start
    expected = writes * subscribers
    deadline = time.perf_counter() + 10
    probed = await probes.report()
    while receipts.events + probed["events"] < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        probed = await probes.report()
    cpu1 = cpu_split(server)
    return Phase(writes, elapsed, probed["latencies"], expected, receipts.events + probed["events"],
                 receipts.frames + probed["frames"], receipts.bytes + probed["bytes"], cpu1[0] - cpu0[0],
                 cpu1[1] - cpu0[1],
                 server.memory_info().rss / 2**20)


PROBES = 20


async def run(target: Target, n: int, steady: float, burst: float) -> dict[str, dict[str, float]]:
    await target.start()
    server = psutil.Process(target.proc.pid)
    loop = asyncio.get_running_loop()
    receipts = Receipts()
    host, port = target.url.removeprefix("http://").rsplit(":", 1)
    try:
        await target.open_writer()
        await target.write("warm-up t=0")
        rss0 = server.memory_info().rss
        subs: list[Subscriber] = []
        probes = await Probes.start(target)
        every = max(1, n // PROBES)
        for i in range(n):
            if i % every == every // 2 and i // every < PROBES:
                await asyncio.gather(*(s.ready for s in subs))  # keep the order of subscription exact
                await probes.add()
                continue
            _, sub = await loop.create_connection(
                lambda: Subscriber(target.live_uri(), target.token(), receipts, target.subscribe_frame()),
                host, int(port))
            subs.append(sub)
        await asyncio.gather(*(s.ready for s in subs))
        await asyncio.sleep(1.0)  # let the server settle before reading its memory
        idle_kb = (server.memory_info().rss - rss0) / n / 1024
        results = {"steady 20/s": (await _phase(target, receipts, probes, server, n, steady, 20.0)).row(),
                   "as fast as acked": (await _phase(target, receipts, probes, server, n, burst, None)).row()}
        await probes.stop()
        for row in results.values():
            row["idle KB/conn"] = idle_kb
        for sub in subs:
            sub.close()
        await target.close_writer()
        return results
    finally:
        target.stop()


def _median(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {phase: {k: statistics.median(r[phase][k] for r in runs) for k in runs[0][phase]} for phase in runs[0]}


def _print(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    columns = list(next(iter(rows.values())))
    print(f"{'':18}" + "".join(f"{c:>18}" for c in columns))
    for name, row in rows.items():
        print(f"{name:18}" + "".join(f"{row[c]:>18.3f}" for c in columns))


def _targets(ours: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]) -> None:
    """The issue's targets at N = 1000, 20 writes/s. Its 15 ms p99 was set on a machine where the
    reference did about 10 ms: the reference's own p99 printed beside it shows how this machine
    compares."""
    steady, ref = ours["steady 20/s"], reference["steady 20/s"]
    checks = [
        ("p99 latency under 15 ms", (f"{steady['p99 ms']:.1f} ms (reference {ref['p99 ms']:.1f} ms here, "
                                     f"about 10 ms where the target was set)"), steady["p99 ms"] < 15),
        ("nothing lost", f"{steady['delivered']:.4f} delivered", steady["delivered"] == 1),
        ("deliveries per core >= 0.75 of the reference",
         f"{steady['deliveries/s/core'] / ref['deliveries/s/core']:.2f}",
         steady["deliveries/s/core"] >= 0.75 * ref["deliveries/s/core"]),
        ("idle memory <= 20 KB per connection", f"{steady['idle KB/conn']:.1f} KB", steady["idle KB/conn"] <= 20),
    ]
    print("\nTargets at N = 1000, 20 writes/s")
    for name, measured, met in checks:
        print(f"  {'met    ' if met else 'NOT met'}  {name}: {measured}")


SIDE_BY_SIDE = ("deliveries/s/core", "p50 ms", "p99 ms", "delivered", "server cpu %", "user share", "server rss MB")


def _side_by_side(n: int, results: dict[str, dict[str, dict[str, float]]], baseline: str) -> None:
    """Every server on every loop in one table per phase, deliveries per core also as a factor of
    `baseline`'s (ours on asyncio's default loop: the figure to beat 1.5 times)."""
    for phase in next(iter(results.values())):
        print(f"\nN = {n}, {phase}: side by side")
        print(f"{'':26}" + "".join(f"{c:>18}" for c in SIDE_BY_SIDE) + f"{'x ' + baseline:>34}")
        base = results[baseline][phase]["deliveries/s/core"] if baseline in results else float("nan")
        for label, rows in results.items():
            row = rows[phase]
            print(f"{label:26}" + "".join(f"{row[c]:>18.3f}" for c in SIDE_BY_SIDE)
                  + f"{row['deliveries/s/core'] / base:>34.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,2000", help="subscriber counts")
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of writes at 20/s")
    parser.add_argument("--burst", type=float, default=3.0, help="seconds of writes as fast as acknowledged")
    parser.add_argument("--repeat", type=int, default=1, help="runs per server; figures are medians")
    parser.add_argument("--servers", default="ours,reference", help=f"which of {', '.join(SERVERS)}")
    parser.add_argument("--loops", default="asyncio", help="event loops of the servers: asyncio, uvloop or both")
    parser.add_argument("--baseline", default="main", help="the git commit that --servers baseline runs")
    args = parser.parse_args()
    Baseline.ref = args.baseline
    kinds = [SERVERS[name] for name in args.servers.split(",")]
    loops = args.loops.split(",")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one server process; "
          f"generator in this process on loopback (asyncio's loop); median of {args.repeat} run(s); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for n in (int(s) for s in args.sizes.split(",")):
        runs: dict[str, list[dict[str, dict[str, float]]]] = {}
        for _ in range(args.repeat):  # alternating, so that a slow spell of the machine hits every server
            for loop in loops:
                for kind in kinds:
                    target = kind(loop)
                    runs.setdefault(target.label, []).append(await run(target, n, args.steady, args.burst))
        results = {label: _median(measured) for label, measured in runs.items()}
        for label, rows in results.items():
            _print(f"N = {n}: {label}", rows)
        for loop in loops:
            ours, reference = results.get(Ours(loop).label), results.get(Reference(loop).label)
            if ours is not None and reference is not None:
                ratios = {phase: {k: ours[phase][k] / reference[phase][k] if reference[phase][k] else float("nan")
                                  for k in ours[phase]} for phase in ours}
                _print(f"N = {n}: imagechat / reference, both on {loop}", ratios)
                if n == 1000:
                    _targets(ours, reference)
        if len(results) > 1:
            base = Baseline if Baseline in kinds else Ours
            _side_by_side(n, results, f"{base('asyncio').name} on asyncio")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        asyncio.run(probe_main(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        asyncio.run(main())
