"""Usage figures for the whole cluster: what every process counts in memory and has not yet written
to the database (open live connections, messages and bytes since its last flush), shared through
Redis, summed on read.

Each process writes its figures every `HEARTBEAT` seconds into one Redis hash, under a field of its
own, stamped (on Redis's clock) with the moment they stop counting: `LIVE_FOR` later. A reader sums
the fields still live and deletes the others, so a process killed without a word (SIGKILL, a lost
host) drops out of the totals within `LIVE_FOR` seconds; one that shuts down removes its field at
once. Without Redis there is one process to count: `LocalTally` knows of no other.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .store import CONVERSATION_CREATE_COUNT
from .usage import BANDWIDTH, MESSAGES, UsageMeter

log = logging.getLogger("imagechat.server")

HEARTBEAT = 1.0
"""Seconds between writes of this process's figures to Redis."""
LIVE_FOR = 5.0
"""Seconds a process's figures count after it wrote them: a killed process's connections leave
the totals within this long (a few heartbeats, so that a busy event loop does not drop out)."""
LOG_EVERY = 10.0
"""At most one warning in this many seconds while Redis does not answer."""


@dataclass(slots=True)
class Live:
    """A tenant's figures not (yet) in the database: open connections and unflushed counts."""

    connections: int = 0
    messages: int = 0
    bandwidth: int = 0

    def add(self, other: Live) -> None:
        self.connections += other.connections
        self.messages += other.messages
        self.bandwidth += other.bandwidth


def live_figures(meter: UsageMeter) -> dict[str, Live]:
    """This process's figures now, per tenant (only tenants with something to count)."""
    figures = {}
    for tenant_id, usage in meter.tenants.items():
        unflushed = usage.unflushed()
        live = Live(usage.connections, unflushed[MESSAGES], unflushed[BANDWIDTH])
        if live.connections or live.messages or live.bandwidth:
            figures[tenant_id] = live
    return figures


class Tally(Protocol):
    async def report(self, figures: dict[str, Live]) -> None:
        """Tell the other processes this one's figures (a failure is logged, never raised)."""

    async def others(self) -> dict[str, Live]:
        """The other live processes' figures, summed per tenant ({} if they can't be read)."""

    async def close(self) -> None:
        """Withdraw this process's figures and let go of the connection."""


class LocalTally:
    """One process alone: there are no others."""

    async def report(self, figures: dict[str, Live]) -> None:
        pass  # nobody to tell

    async def others(self) -> dict[str, Live]:
        return {}

    async def close(self) -> None:
        pass  # nothing held


# Each field's value is "<expiry in ms on Redis's clock> <JSON figures>"; the hash itself expires
# with its last writer.
REPORT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', now + ttl) .. ' ' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
return 0
"""
READ = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #fields, 2 do
    local value = fields[i + 1]
    local space = string.find(value, ' ', 1, true)
    if space and tonumber(string.sub(value, 1, space - 1)) > now then
        table.insert(live, fields[i])
        table.insert(live, string.sub(value, space + 1))
    else
        redis.call('HDEL', KEYS[1], fields[i])
    end
end
return live
"""


class RedisTally:
    """The figures of every process, in one Redis hash."""

    def __init__(self, url: str, prefix: str = "imagechat:") -> None:
        import redis.asyncio as redis  # the scale-out extra
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_timeout=1, socket_connect_timeout=1)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._report = self._redis.register_script(REPORT)
        self._read = self._redis.register_script(READ)
        self._key = prefix + "usage:live"
        self.process_id = uuid.uuid4().hex
        self._quiet_until = 0.0

    async def report(self, figures: dict[str, Live]) -> None:
        encoded = json.dumps({t: [f.connections, f.messages, f.bandwidth] for t, f in figures.items()},
                             separators=(",", ":"))
        try:
            await self._report(keys=[self._key], args=[self.process_id, int(LIVE_FOR * 1000), encoded])
        except self._errors as exc:
            self._warn("could not report this process's usage figures to Redis: %s", exc)

    async def others(self) -> dict[str, Live]:
        try:
            fields = await self._read(keys=[self._key])
        except self._errors as exc:
            self._warn("usage figures are this process's alone while Redis does not answer: %s", exc)
            return {}
        totals: dict[str, Live] = {}
        for process_id, encoded in zip(fields[::2], fields[1::2], strict=True):
            if process_id.decode() == self.process_id:
                continue  # this process's own figures are read live, not as last reported
            try:
                per_tenant = json.loads(encoded)
                for tenant_id, (connections, messages, bandwidth) in per_tenant.items():
                    totals.setdefault(tenant_id, Live()).add(Live(int(connections), int(messages), int(bandwidth)))
            except (ValueError, TypeError, AttributeError) as exc:
                self._warn("skipped unreadable usage figures of process %s: %s", process_id, exc)
        return totals

    async def close(self) -> None:
        try:
            await self._redis.hdel(self._key, self.process_id)
        except self._errors:
            pass  # the figures expire by themselves within LIVE_FOR
        await self._redis.aclose()

    def _warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now >= self._quiet_until:
            self._quiet_until = now + LOG_EVERY
            log.warning(message, *args)


@dataclass(frozen=True, slots=True)
class Totals:
    """A tenant's figures for the whole cluster."""

    messages: int = 0
    bandwidth: int = 0
    conversations: int = 0
    connections: int = 0


class ClusterUsage:
    """The totals `/api/v1/usage` and `/metrics` show: the database's flushed counts, plus what
    every live process counted since its last flush, plus every process's open connections."""

    def __init__(self, meter: UsageMeter, tally: Tally) -> None:
        self.meter = meter
        self.tally = tally

    async def report(self) -> None:
        await self.tally.report(live_figures(self.meter))

    async def totals(self, stored: dict[str, dict[str, int]]) -> dict[str, Totals]:
        """Per tenant, from `stored` (the database's figures per tenant) and every process's live ones."""
        live = await self.tally.others()
        for tenant_id, figures in live_figures(self.meter).items():
            live.setdefault(tenant_id, Live()).add(figures)
        totals = {}
        for tenant_id in stored.keys() | live.keys():
            kept, now = stored.get(tenant_id, {}), live.get(tenant_id, Live())
            totals[tenant_id] = Totals(kept.get(MESSAGES, 0) + now.messages, kept.get(BANDWIDTH, 0) + now.bandwidth,
                                       kept.get(CONVERSATION_CREATE_COUNT, 0), now.connections)
        return totals


class ClusterMeter(Collector):
    """/metrics' cluster-wide figures: gauges named `imagechat_cluster_*`, beside the per-process
    `UsageMeter`. Gauges, not counters: a process killed before its flush takes its unflushed
    counts with it, so a total can fall. `collect` is synchronous: `/metrics` refreshes `totals`
    just before it renders."""

    def __init__(self) -> None:
        self.totals: dict[str, Totals] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "messages": GaugeMetricFamily("imagechat_cluster_pubsub_messages",
                                          "Frames sent to live subscribers by every process", labels=["tenant"]),
            "bandwidth": GaugeMetricFamily("imagechat_cluster_pubsub_bytes",
                                           "Payload bytes sent to live subscribers by every process",
                                           labels=["tenant"]),
            "conversations": GaugeMetricFamily("imagechat_cluster_conversations_created",
                                               "Markers created through every process", labels=["tenant"]),
            "connections": GaugeMetricFamily("imagechat_cluster_connections",
                                             "Open live connections on every process", labels=["tenant"]),
        }
        for tenant_id, totals in self.totals.items():
            for name, family in families.items():
                family.add_metric([tenant_id], getattr(totals, name))
        yield from families.values()
