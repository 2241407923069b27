"""What operators see of a running bot: Prometheus series, served at `/metrics` (bot/server.py).

Each turn runner has its own `CollectorRegistry` (never the library's global one), so two apps
in one test process, or replicas, never count into each other. Counters and the latency
histogram count what happens in this process; the outbox and check-in gauges are read from the
store when scraped (`StoreGauges`), so every replica reports the same backlog. Labels hold
channel names, failure kinds and fixed reasons only: never a person's id or words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

# Seconds, from a cached reply (a millisecond) to a database under strain (several seconds).
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACCEPTED, REFUSED = "accepted", "refused"


@dataclass(frozen=True)
class StoreSnapshot:
    """The backlog as the store holds it at one moment: by channel, messages waiting, when the
    oldest was queued, and check-ins due; `now` by the runner's clock."""

    now: float
    waiting: dict[str, tuple[int, float]] = field(default_factory=dict)
    checkins_due: dict[str, int] = field(default_factory=dict)
    channels: frozenset[str] = frozenset()  # reported even when nothing waits there (as 0)


class StoreGauges(Collector):
    """Outbox depth, the age of its oldest message and check-ins due, from the last snapshot."""

    def __init__(self) -> None:
        self.snapshot = StoreSnapshot(now=0.0)

    def collect(self) -> Iterator[Metric]:
        shot = self.snapshot
        depth = GaugeMetricFamily("bot_outbox_messages",
                                  "Messages queued and not yet taken by their platform",
                                  labels=["channel"])
        oldest = GaugeMetricFamily("bot_outbox_oldest_age_seconds",
                                   "Age of the oldest message not yet taken (0: none waits)",
                                   labels=["channel"])
        due = GaugeMetricFamily("bot_checkins_due",
                                "Check-ins due and not yet sent", labels=["channel"])
        for channel in sorted(shot.channels | set(shot.waiting)):
            count, since = shot.waiting.get(channel, (0, shot.now))
            depth.add_metric([channel], count)
            oldest.add_metric([channel], max(0.0, shot.now - since) if count else 0.0)
        for channel in sorted(shot.channels | set(shot.checkins_due)):
            due.add_metric([channel], shot.checkins_due.get(channel, 0))
        yield from (depth, oldest, due)


class Metrics:
    """This process's series, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Histogram("bot_turn_seconds", "Turns taken and how long each took",
                               ["channel"], buckets=TURN_BUCKETS, registry=self.registry)
        self.send_failures = Counter(
            "bot_send_failures", "Messages a platform did not take (429, 5xx, timeout, other)",
            ["channel", "kind"], registry=self.registry)
        self.webhooks = Counter(
            "bot_webhook_requests", "Webhook calls (Telegram updates, booking providers)",
            ["source", "result", "reason"], registry=self.registry)
        self.store_gauges = StoreGauges()
        self.registry.register(self.store_gauges)
        self._turns_of: dict[str, Histogram] = {}  # each channel's histogram, looked up once

    def turn_taken(self, channel: str, seconds: float) -> None:
        histogram = self._turns_of.get(channel)
        if histogram is None:
            histogram = self._turns_of[channel] = self.turns.labels(channel)
        histogram.observe(seconds)

    def send_failed(self, channel: str, kind: str) -> None:
        self.send_failures.labels(channel, kind).inc()

    def webhook(self, source: str, reason: str, accepted: bool) -> None:
        """One webhook call and what became of it (`reason`: a fixed word, never its body)."""
        self.webhooks.labels(source, ACCEPTED if accepted else REFUSED, reason).inc()

    def exposition(self, snapshot: StoreSnapshot, accept: str = "") -> tuple[bytes, str]:
        """The series in the format the scraper accepts (Prometheus text, or OpenMetrics), with
        the store's gauges as `snapshot` has them; the body and its content type."""
        encode, content_type = choose_encoder(accept)
        self.store_gauges.snapshot = snapshot  # no await until encoded: scrapes never mix
        return encode(self.registry), content_type
