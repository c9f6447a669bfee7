"""Scale-out benchmark: K server processes over one Redis and one database, S subscribers on one image.

For each K (1, 2, 4, … by flag): K `imagechat-server` processes over one Redis (a redis-server of
this script's own on a free port, unless --redis-url) and one database (SQLite in a temporary
directory, shared on this host, unless --database-url names e.g. PostgreSQL); S subscribers spread
evenly over the K processes, held by G load-generator processes; P latency probes in a process of
their own, spread over every server process and through the fan-out order; writes through every
process in turn, at a steady rate, then as fast as they are acknowledged.

    python bench/scaleout.py                                  # K = 1, 2; S = 2000
    python bench/scaleout.py --processes 1,2,4,8 --subscribers 8000 --generators 4
    python bench/scaleout.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test

Prints per K and phase: writes/s, deliveries/s (all deliveries over the time until the last
arrived, or the 10 s drain deadline), the speed-up of deliveries/s over K = 1, p50/p99 latency
from write to receipt, delivered/expected, server CPU (all processes; and the busiest one) and RSS,
and the busiest generator's CPU. A run where a generator process used over 90 % of a core is
flagged: there the generators, not the servers, set the figure.

Each process is pinned to CPUs chosen here (os.sched_setaffinity on its pid, since a child inherits
its parent's set): with at least K + G + 2 cores, one core per server, one per generator, the rest
for the probes, the writer, Redis and the database; with fewer, all share all cores, and the output
says so. The subscribers' protocol and the writer are bench/fanout.py's (bare frame reading, a bare
keep-alive HTTP/1.1 client), so that the generators cost as little as they can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
from fanout import FILLER, IMAGE, HttpWriter, Receipts, Subscriber, cpu_seconds, spawn
from websockets.uri import parse_uri

from imagechat_tui.server.admin import create_tenant, create_token
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare

SERVER = [sys.executable, "-m", "imagechat_tui.server.cli"]
DRAIN = 10.0
"""Seconds after the last write within which every delivery must have arrived."""
GENERATOR_LIMIT = 90.0
"""A generator process's CPU % (of one core) above which it, not the servers, is the limit."""


# The load-generator processes: subscribers, driven over stdin/stdout.


async def generator_main(uris: list[str], token: str, offset: int, keep_latencies: bool) -> None:
    """Hold subscribers, each on the next of `uris` in turn (starting at `offset`); answer
    `add M` (M more, connected and subscribed), `reset`, `report` and `quit`, one JSON line each."""
    loop = asyncio.get_running_loop()
    receipts = Receipts()
    subscribe = json.dumps({"type": "subscribe", "image": IMAGE, "since": None}).encode()
    subs: list[Subscriber] = []
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while command := (await reader.readline()).decode().split():
        if command[0] == "add":
            added = []
            for _ in range(int(command[1])):
                uri = uris[(offset + len(subs)) % len(uris)]
                parsed = parse_uri(uri)
                _, sub = await loop.create_connection(lambda u=uri: Subscriber(u, token, receipts, subscribe),
                                                      parsed.host, parsed.port)
                subs.append(sub)
                added.append(sub)
            await asyncio.gather(*(s.ready for s in added))
        elif command[0] == "reset":
            receipts.reset()
        answer: dict[str, object] = {"ok": command[0]}
        if command[0] == "report":
            answer = {"events": receipts.events, "frames": receipts.frames, "bytes": receipts.bytes,
                      "latencies": list(receipts.latencies) if keep_latencies else []}
        print(json.dumps(answer), flush=True)
        if command[0] == "quit":
            break
    for sub in subs:
        sub.close()


class Generator:
    """One generator process, as the parent drives it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)

    @classmethod
    async def start(cls, uris: list[str], token: str, offset: int, probes: bool) -> Generator:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--generator", ",".join(uris), token, str(offset), "1" if probes else "0",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**28)
        return cls(proc)

    async def ask(self, command: str) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await self.proc.stdout.readline())

    async def stop(self) -> None:
        await self.ask("quit")
        await self.proc.wait()


# CPU placement


@dataclass
class Placement:
    servers: list[set[int]]
    generators: list[set[int]]
    rest: set[int]
    """For the probes, this process (the writer), Redis and the database."""
    shared: bool

    @classmethod
    def plan(cls, k: int, g: int) -> Placement:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) >= k + g + 2:
            return cls([{c} for c in cores[:k]], [{c} for c in cores[k:k + g]], set(cores[k + g:]), False)
        every = set(cores)
        return cls([every] * k, [every] * g, every, True)

    def describe(self) -> str:
        if self.shared:
            return (f"servers and generators SHARE all {len(self.rest)} cores ({_cores(self.rest)}): too few "
                    "to pin each to its own")
        return (f"servers on cores {', '.join(_cores(s) for s in self.servers)}; generators on "
                f"{', '.join(_cores(s) for s in self.generators)}; probes, writer, Redis, database on "
                f"{_cores(self.rest)}")


def _cores(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def pin(pid: int, cpus: set[int]) -> None:
    os.sched_setaffinity(pid, cpus)


# The cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(cpus: set[int]) -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("redis-server") is None:
        raise SystemExit("scaleout: redis-server is not installed; give --redis-url")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    pin(proc.pid, cpus)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("scaleout: redis-server did not start") from None
            time.sleep(0.05)


async def tokens(database_url: str) -> tuple[str, str]:
    """A tenant of this run's own (a shared PostgreSQL database may hold earlier runs'), and tokens
    for the subscribers and the writer; in this process, since an admin command's start-up costs seconds."""
    db = Database(database_url)
    try:
        await db.run(prepare)
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        await create_tenant(db, tenant)
        subscriber = await create_token(db, tenant, "u_sub", "Sub", "member")
        writer = await create_token(db, tenant, "u_w", "Writer", "member")
        return subscriber[1], writer[1]
    finally:
        await db.dispose()


@dataclass
class Phase:
    writes: int
    seconds: float
    wall: float
    """From the first write until the last delivery arrived (or the drain deadline)."""
    latencies: list[float]
    expected: int
    delivered: int
    server_cpu: list[float]
    server_rss_mb: float
    generator_cpu: list[float]

    def row(self) -> dict[str, float]:
        lat = sorted(self.latencies) or [float("nan")]
        return {
            "writes/s": self.writes / self.seconds,
            "deliveries/s": self.delivered / self.wall,
            "p50 ms": lat[len(lat) // 2],
            "p99 ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "delivered": self.delivered / max(1, self.expected),
            "server cpu %": 100 * sum(self.server_cpu) / self.wall,
            "busiest server %": 100 * max(self.server_cpu) / self.wall,
            "server rss MB": self.server_rss_mb,
            "busiest gen %": 100 * max(self.generator_cpu) / self.wall,
        }


class Cluster:
    def __init__(self, urls: list[str], servers: list[psutil.Process], generators: list[Generator],
                 probes: Generator, writers: list[HttpWriter], subscribers: int) -> None:
        self.urls, self.servers, self.generators, self.probes = urls, servers, generators, probes
        self.writers, self.subscribers = writers, subscribers
        self.marker_id = ""
        self.turns = [asyncio.Lock() for _ in writers]  # one request at a time on each keep-alive connection

    async def open(self) -> None:
        body = {"image": IMAGE, "x": 50, "y": 50, "text": "bench", "broadcastId": str(uuid.uuid4())}
        self.marker_id = (await self.writers[0].post("/api/v1/chats", body))["marker"]["id"]

    async def write(self, n: int) -> None:
        """Write `n` through process n mod K; its latency counts from now, waiting for the connection included."""
        body = {"text": f"{FILLER} t={time.perf_counter_ns()}", "broadcastId": str(uuid.uuid4())}
        async with self.turns[n % len(self.writers)]:
            await self.writers[n % len(self.writers)].post(f"/api/v1/chats/{self.marker_id}/comments", body)

    async def steady(self, until: float, rate: float) -> int:
        """Writes at `rate`, spread over the processes, each started on time whether or not the
        one before was acknowledged (a server that can't keep up shows as latency)."""
        start, writes, pending = time.perf_counter(), 0, []
        while time.perf_counter() < until:
            pending.append(asyncio.create_task(self.write(writes)))
            writes += 1
            await asyncio.sleep(max(0.0, start + writes / rate - time.perf_counter()))
        await asyncio.gather(*pending)
        return writes

    async def flat_out(self, until: float) -> int:
        """Writes through every process at once, each the moment its previous one was acknowledged."""
        async def through(i: int) -> int:
            done = 0
            while time.perf_counter() < until:
                await self.write(i)
                done += 1
            return done

        return sum(await asyncio.gather(*(through(i) for i in range(len(self.writers)))))

    async def _report(self) -> tuple[int, list[float]]:
        reports = await asyncio.gather(*(g.ask("report") for g in [*self.generators, self.probes]))
        return sum(r["events"] for r in reports), reports[-1]["latencies"]

    async def phase(self, seconds: float, rate: float | None) -> Phase:
        await asyncio.gather(*(g.ask("reset") for g in [*self.generators, self.probes]))
        everyone = [*self.generators, self.probes]
        cpu0 = [cpu_seconds(p) for p in self.servers]
        gen0 = [cpu_seconds(g.ps) for g in everyone]
        start = time.perf_counter()
        writes = await (self.flat_out(start + seconds) if rate is None else self.steady(start + seconds, rate))
        elapsed = time.perf_counter() - start
        expected = writes * self.subscribers
        deadline = time.perf_counter() + DRAIN
        delivered, latencies = await self._report()
        while delivered < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
            delivered, latencies = await self._report()
        wall = time.perf_counter() - start
        return Phase(writes, elapsed, wall, latencies, expected, delivered,
                     [cpu_seconds(p) - c for p, c in zip(self.servers, cpu0, strict=True)],
                     sum(p.memory_info().rss for p in self.servers) / 2**20,
                     [cpu_seconds(g.ps) - c for g, c in zip(everyone, gen0, strict=True)])


async def run_k(k: int, args: argparse.Namespace, redis_url: str, database_url: str, token: str,
                writer_token: str) -> dict[str, dict[str, float]]:
    placement = Placement.plan(k, args.generators)
    print(f"\nK = {k}: {placement.describe()}", flush=True)
    procs, urls = [], []
    try:
        for i in range(k):
            proc, url = spawn([*SERVER, "--database-url", database_url, "--redis-url", redis_url, "--port", "0",
                               "--write-rate", "1e9", "--write-burst", "1e9", "--loop", args.loop])
            pin(proc.pid, placement.servers[i])
            procs.append(proc)
            urls.append(url)
        uris = [url.replace("http", "ws") + "/api/v1/live" for url in urls]
        generators = [await Generator.start(uris, token, i, probes=False) for i in range(args.generators)]
        probes = await Generator.start(uris, token, 0, probes=True)
        for g, cpus in zip(generators, placement.generators, strict=True):
            pin(g.proc.pid, cpus)
        pin(probes.proc.pid, placement.rest)
        bulk = args.subscribers - args.probes
        # The probes join between chunks of the others, so that they sample every part of each
        # server's fan-out order (which is connection order).
        per_chunk = [bulk // args.generators // args.probes] * args.generators
        for _ in range(args.probes):
            await asyncio.gather(*(g.ask(f"add {n}") for g, n in zip(generators, per_chunk, strict=True)))
            await probes.ask("add 1")
        left = bulk - sum(per_chunk) * args.probes
        for i in range(left):
            await generators[i % len(generators)].ask("add 1")
        writers = [HttpWriter(url, writer_token) for url in urls]
        cluster = Cluster(urls, [psutil.Process(p.pid) for p in procs], generators, probes, writers,
                          args.subscribers)
        await cluster.open()
        await asyncio.sleep(1.0)  # let every server settle
        results = {f"steady {args.rate:g}/s": (await cluster.phase(args.steady, args.rate)).row(),
                   "as fast as acked": (await cluster.phase(args.burst, None)).row()}
        for g in [*generators, probes]:
            await g.stop()
        for w in writers:
            await w.close()
        return results
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def _print(rows: dict[int, dict[str, dict[str, float]]], repeat: int) -> None:
    first = min(rows)
    for phase in next(iter(rows.values())):
        print(f"\n{phase} (median of {repeat} run(s))")
        columns = ["speed-up", *next(iter(rows.values()))[phase]]
        print(f"{'K':>4}" + "".join(f"{c:>18}" for c in columns) + "  limit")
        for k, results in rows.items():
            row = results[phase]
            row["speed-up"] = row["deliveries/s"] / rows[first][phase]["deliveries/s"]
            limit = "GENERATOR" if row["busiest gen %"] > GENERATOR_LIMIT else ""
            print(f"{k:>4}" + "".join(f"{row[c]:>18.3f}" for c in columns) + f"  {limit}")


def _median(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {phase: {k: statistics.median(r[phase][k] for r in runs) for k in runs[0][phase]} for phase in runs[0]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2", help="server process counts K to measure")
    parser.add_argument("--subscribers", type=int, default=2000, help="subscribers S, over all processes")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes G")
    parser.add_argument("--probes", type=int, default=20, help="latency probes P, spread over every process")
    parser.add_argument("--rate", type=float, default=20.0, help="writes per second in the steady phase")
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of writes at --rate")
    parser.add_argument("--burst", type=float, default=3.0, help="seconds of writes as fast as acknowledged")
    parser.add_argument("--repeat", type=int, default=1, help="runs per K; figures are medians")
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://… (default: SQLite in a temporary directory)")
    parser.add_argument("--redis-url", help="default: a redis-server of this run's own on a free port")
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"), help="the servers' event loop")
    args = parser.parse_args()
    if args.subscribers < args.probes * (args.generators + 1):
        parser.error("--subscribers must be at least --probes x (--generators + 1)")
    ks = [int(k) for k in args.processes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="imagechat-scaleout-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'imagechat.db'}"
    redis = None
    redis_url = args.redis_url
    if redis_url is None:
        redis, redis_url = start_redis(Placement.plan(max(ks), args.generators).rest)
    try:
        token, writer = await tokens(database_url)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; S = {args.subscribers} subscribers on one "
              f"image, {args.generators} generator processes, {args.probes} probes; database "
              f"{database_url.split('://')[0]}, Redis {redis_url}; servers on loop {args.loop}")
        runs: dict[int, list[dict[str, dict[str, float]]]] = {k: [] for k in ks}
        for _ in range(args.repeat):
            for k in ks:
                runs[k].append(await run_k(k, args, redis_url, database_url, token, writer))
        _print({k: _median(r) for k, r in runs.items()}, args.repeat)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--generator"]:
        asyncio.run(generator_main(sys.argv[2].split(","), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"))
    else:
        asyncio.run(main())
