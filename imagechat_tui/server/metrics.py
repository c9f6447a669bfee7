"""What /metrics shows of the link between server processes (usage figures are in `usage`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from .pubsub import LinkCounts


class LinkMeter(Collector):
    def __init__(self, counts: LinkCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = self.counts
        for name, help_text, value in (
            ("imagechat_pubsub_malformed", "Pub/sub messages skipped because they could not be read",
             counts.malformed),
            ("imagechat_pubsub_publish_failures", "Publishes the broker did not take (each sent again later)",
             counts.publish_failures),
            ("imagechat_pubsub_relinks", "Times the pub/sub link came back after a loss", counts.relinks),
            ("imagechat_pubsub_repaired_events", "Events sent from the store after pub/sub lost them",
             counts.repaired),
            ("imagechat_pubsub_resyncs", "Subscribers closed to resync because what they missed was gone",
             counts.resyncs),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
