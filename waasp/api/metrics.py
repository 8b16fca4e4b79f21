"""Prometheus metrics: this process's own (HTTP, checks, enqueue failures) and the runtime's
cluster-wide figures (the runtime dashboard's collector, read from Redis at scrape time).

Each app has its own registry (never prometheus-client's global one), so several apps in one
process — tests, ``waasp up`` — never mix their figures. Under ``waasp serve --processes N``
each process counts into prometheus-client's multiprocess directory (``PROMETHEUS_MULTIPROC_DIR``,
set by the parent) and a scrape of any of them reads every process's files, so the figures
are the sums over all of them (``waasp_api_processes`` says how many serve).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from waasp.models import CheckResult
from waasp.runtime.dashboard import RuntimeMetrics

# A check answers in about a millisecond; these resolve that, and the slow tail.
CHECK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED_ROUTE = "unmatched"
# Read by prometheus-client when it is first imported: set, every metric lives in files there.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics(RuntimeMetrics):
    """This process's metrics, in a registry of its own.

    The API counts HTTP requests and check decisions itself; whoever enqueues on the API's
    behalf (the blocked-sender notifier) calls ``enqueue_failed`` when an enqueue fails.
    """

    def __init__(self) -> None:
        super().__init__()  # self.registry (what /metrics exports), the runtime's collector
        directory = os.environ.get(MULTIPROC_ENV)
        # Under ``--processes`` every value lives in a file there, and a scrape reads them all
        # (summed); this process's metric objects then register elsewhere, not to count twice.
        counted = CollectorRegistry() if directory else self.registry
        if directory:
            MultiProcessCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        self.http_requests = Counter(
            "waasp_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=counted,
        )
        self.check_decisions = Counter(
            "waasp_check_decisions",
            "Check decisions by outcome (allowed, limited, blocked, error)",
            ["outcome"],
            registry=counted,
        )
        self.check_latency = Histogram(
            "waasp_check_latency_seconds",
            "Time to decide a check, audit included",
            buckets=CHECK_BUCKETS,
            registry=counted,
        )
        self.enqueue_failures = Counter(
            "waasp_enqueue_failures",
            "Background tasks that could not be enqueued",
            ["task"],
            registry=counted,
        )
        self.api_processes = Gauge(
            "waasp_api_processes",
            "API processes serving on this address (waasp serve --processes)",
            multiprocess_mode="livesum",
            registry=counted,
        )
        self.api_processes.set(1)
        # Children by label values, looked up once: ``labels()`` locks and validates each call.
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._decisions: dict[str, Counter] = {}

    def request_done(self, route: str, method: str, status: int) -> None:
        """Count an HTTP request by route template, method and status."""
        key = (route, method, status)
        child = self._requests.get(key)
        if child is None:
            child = self.http_requests.labels(route=route, method=method, status=str(status))
            self._requests[key] = child
        child.inc()

    def enqueue_failed(self, task: str, count: int = 1) -> None:
        """Count tasks that could not be enqueued."""
        self.enqueue_failures.labels(task=task).inc(count)

    def check_decided(self, outcome: str, seconds: float) -> None:
        """Count a check's outcome and observe how long it took."""
        child = self._decisions.get(outcome)
        if child is None:
            child = self._decisions[outcome] = self.check_decisions.labels(outcome=outcome)
        child.inc()
        self.check_latency.observe(seconds)


async def observed_check(metrics: Metrics, check: Awaitable[CheckResult]) -> CheckResult:
    """Await a check, counting its outcome (``error`` when it raises) and its latency."""
    started = time.perf_counter()
    try:
        result = await check
    except Exception:
        metrics.check_decided("error", time.perf_counter() - started)
        raise
    metrics.check_decided(result.action.value, time.perf_counter() - started)
    return result


def route_label(request: web.Request) -> str:
    """The route template a request matched, without a trailing slash ("unmatched" when none
    did, so unknown paths cannot grow the label set)."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED_ROUTE
    template = resource.canonical
    return template.rstrip("/") or "/"
