"""Prometheus metrics: this process's own (HTTP, checks, enqueue failures) and the runtime's
cluster-wide figures (the runtime dashboard's collector, read from Redis at scrape time).

Each app has its own registry (never prometheus-client's global one), so several apps in one
process — tests, ``waasp up`` — never mix their figures.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable

from aiohttp import web
from prometheus_client import Counter, Histogram

from waasp.models import CheckResult
from waasp.runtime.dashboard import RuntimeMetrics

# A check answers in about a millisecond; these resolve that, and the slow tail.
CHECK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED_ROUTE = "unmatched"


class Metrics(RuntimeMetrics):
    """This process's metrics, in a registry of its own.

    The API counts HTTP requests and check decisions itself; whoever enqueues on the API's
    behalf (the blocked-sender notifier) calls ``enqueue_failed`` when an enqueue fails.
    """

    def __init__(self) -> None:
        super().__init__()
        self.http_requests = Counter(
            "waasp_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.check_decisions = Counter(
            "waasp_check_decisions",
            "Check decisions by outcome (allowed, limited, blocked, error)",
            ["outcome"],
            registry=self.registry,
        )
        self.check_latency = Histogram(
            "waasp_check_latency_seconds",
            "Time to decide a check, audit included",
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )
        self.enqueue_failures = Counter(
            "waasp_enqueue_failures",
            "Background tasks that could not be enqueued",
            ["task"],
            registry=self.registry,
        )

    def enqueue_failed(self, task: str, count: int = 1) -> None:
        """Count tasks that could not be enqueued."""
        self.enqueue_failures.labels(task=task).inc(count)

    def check_decided(self, outcome: str, seconds: float) -> None:
        """Count a check's outcome and observe how long it took."""
        self.check_decisions.labels(outcome=outcome).inc()
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
