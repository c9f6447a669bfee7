"""Usage figures per tenant: counted in memory on the hot path, flushed to the database, scraped by Prometheus."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

MESSAGES = "pubSubMessageCount"
BANDWIDTH = "pubSubBandwidth"


class TenantUsage:
    """One tenant's counters in this process. Plain attributes: each delivery bumps two of them."""

    __slots__ = ("messages", "bandwidth", "flushed_messages", "flushed_bandwidth", "connections", "conversations")

    def __init__(self) -> None:
        self.messages = 0
        self.bandwidth = 0
        self.flushed_messages = 0
        self.flushed_bandwidth = 0
        self.connections = 0
        self.conversations = 0

    def unflushed(self) -> dict[str, int]:
        return {MESSAGES: self.messages - self.flushed_messages, BANDWIDTH: self.bandwidth - self.flushed_bandwidth}


class UsageMeter(Collector):
    def __init__(self) -> None:
        self.tenants: dict[str, TenantUsage] = {}

    def tenant(self, tenant_id: str) -> TenantUsage:
        usage = self.tenants.get(tenant_id)
        if usage is None:
            usage = self.tenants[tenant_id] = TenantUsage()
        return usage

    def take_deltas(self) -> dict[str, dict[str, int]]:
        """What was counted since the last call, per tenant, marked as flushed."""
        deltas = {}
        for tenant_id, usage in self.tenants.items():
            delta = {name: value for name, value in usage.unflushed().items() if value}
            if delta:
                deltas[tenant_id] = delta
                usage.flushed_messages, usage.flushed_bandwidth = usage.messages, usage.bandwidth
        return deltas

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        messages = CounterMetricFamily(
            "imagechat_pubsub_messages", "Frames sent to live subscribers by this process", labels=["tenant"]
        )
        bandwidth = CounterMetricFamily(
            "imagechat_pubsub_bytes", "Payload bytes sent to live subscribers by this process", labels=["tenant"]
        )
        conversations = CounterMetricFamily(
            "imagechat_conversations_created", "Markers created through this process", labels=["tenant"]
        )
        connections = GaugeMetricFamily("imagechat_connections", "Open live connections", labels=["tenant"])
        for tenant_id, usage in self.tenants.items():
            messages.add_metric([tenant_id], usage.messages)
            bandwidth.add_metric([tenant_id], usage.bandwidth)
            conversations.add_metric([tenant_id], usage.conversations)
            connections.add_metric([tenant_id], usage.connections)
        yield from (messages, bandwidth, conversations, connections)
