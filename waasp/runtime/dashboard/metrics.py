"""The runtime's Prometheus figures, read from Redis at scrape time by a collector, and the
registry the standalone dashboard's /metrics exports (a host application's metrics extend it).

Each registry is its own (never prometheus-client's global one), so several apps in one
process — tests, ``waasp up`` — never mix their figures.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from waasp.runtime.dashboard.service import RuntimeSnapshot


class RuntimeCollector(Collector):
    """Exports the snapshot it was last given (the /metrics handler sets it just before
    generating the text, with no await in between)."""

    def __init__(self) -> None:
        self.snapshot: RuntimeSnapshot | None = None
        self.configured = False

    def collect(self) -> Iterable[Metric]:
        """The runtime's metric families."""
        if not self.configured:
            return
        snapshot = self.snapshot
        up = GaugeMetricFamily("waasp_redis_up", "1 when the runtime's Redis answered the scrape")
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        if snapshot is None:
            return
        yield from _queue_families(snapshot)
        live = GaugeMetricFamily("waasp_workers", "Live workers (heartbeat not expired)")
        live.add_metric([], snapshot.workers)
        yield live
        tasks = CounterMetricFamily(
            "waasp_tasks", "Tasks per name and event, cluster-wide", labels=["task", "state"]
        )
        for name, counts in sorted(snapshot.counters.counts.items()):
            for state, count in sorted(counts.items()):
                tasks.add_metric([name, state], count)
        yield tasks
        run_time = HistogramMetricFamily(
            "waasp_task_runtime_seconds", "How long tasks ran, cluster-wide", labels=["task"]
        )
        for name, times in sorted(snapshot.counters.run_times.items()):
            buckets = [(le, float(count)) for le, count in times.buckets]
            run_time.add_metric([name], buckets, times.sum)
        yield run_time


def _queue_families(snapshot: RuntimeSnapshot) -> Iterable[Metric]:
    figures = {
        "waiting": "Messages waiting in the queue's stream",
        "in_flight": "Messages delivered to a worker and not yet acknowledged",
        "delayed": "Messages in the queue's delay set (countdown, eta, retries)",
        "dead": "Messages in the queue's dead-letter stream",
        "paused": "1 while the queue is paused (no worker reads it), else 0",
    }
    for figure, text in figures.items():
        family = GaugeMetricFamily(f"waasp_queue_{figure}", text, labels=["queue"])
        for stats in snapshot.queues:
            family.add_metric([stats.name], getattr(stats, figure))
        yield family
    age = GaugeMetricFamily(
        "waasp_queue_oldest_waiting_age_seconds",
        "Age of the oldest waiting message (0 when none waits)",
        labels=["queue"],
    )
    for stats in snapshot.queues:
        age.add_metric([stats.name], stats.oldest_waiting_age or 0.0)
    yield age
    trimmed = CounterMetricFamily(
        "waasp_dead_letters_trimmed",
        "Dead letters removed, oldest first, to keep the queue's stream within dlq_max_len",
        labels=["queue"],
    )
    for stats in snapshot.queues:
        trimmed.add_metric([stats.name], stats.dead_trimmed)
    yield trimmed


class RuntimeMetrics:
    """A registry of its own holding the runtime's collector (told whether a runtime is
    configured at all: without one no runtime family is exported)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runtime = RuntimeCollector()
        self.registry.register(self.runtime)

    def render(self, snapshot: RuntimeSnapshot | None, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format the ``Accept`` header asks for (Prometheus text 0.0.4
        by default, OpenMetrics on request), with ``snapshot`` as the runtime's figures;
        returns (body, content type)."""
        encode, content_type = choose_encoder(accept)
        self.runtime.snapshot = snapshot
        return encode(self.registry), content_type
