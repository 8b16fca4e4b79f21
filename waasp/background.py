"""How the API hands work to the task runtime, and how it knows the runtime is healthy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import structlog
from aiohttp import web

from waasp.api.app import create_app
from waasp.api.metrics import Metrics
from waasp.api.readiness import ReadinessProbe
from waasp.runtime import Runtime, Worker
from waasp.settings import Settings

log = structlog.get_logger("waasp.background")

NOTIFY_TASK = "waasp.tasks.notify_blocked_sender"
ENQUEUE_TIMEOUT = 1.0
# After a failed enqueue, skip enqueues for this long instead of piling up waits on a
# broker that is down; a blocked check never waits for any of it anyway.
COOL_DOWN = 1.0


class RuntimeNotifier:
    """Enqueues ``notify_blocked_sender`` for each blocked check: bounded, never raising."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        timeout: float = ENQUEUE_TIMEOUT,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.timeout = timeout
        self.on_failure = on_failure
        self._skip_until = 0.0

    async def sender_blocked(self, sender_id: str, channel: str | None) -> None:
        """Enqueue the notification; on failure, log and count it."""
        if time.monotonic() < self._skip_until:
            self._failed("broker recently unreachable")
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self.runtime.send_task(NOTIFY_TASK, (sender_id, channel))
        except Exception as exc:
            self._skip_until = time.monotonic() + COOL_DOWN
            self._failed(str(exc) or type(exc).__name__)

    def _failed(self, error: str) -> None:
        log.warning("notification_enqueue_failed", error=error)
        if self.on_failure is not None:
            self.on_failure()


def redis_probe(runtime: Runtime) -> ReadinessProbe:
    """/readyz: the broker answers PING."""

    async def check() -> None:
        await runtime.broker.client.ping()

    return ReadinessProbe("redis", check)


def worker_probe(worker: Worker) -> ReadinessProbe:
    """/readyz: the in-process worker's consumer loop is not stalled."""

    async def check() -> None:
        if worker.heartbeat.stalled or worker.loop_age() > worker.heartbeat.stall_after:
            raise RuntimeError(f"worker consumer loop stalled for {worker.loop_age():.0f}s")

    return ReadinessProbe("worker", check)


def create_api(
    settings: Settings, runtime: Runtime, extra_probes: Iterable[ReadinessProbe] = ()
) -> web.Application:
    """The API wired to the task runtime: notifications, /readyz, monitoring and metrics."""
    metrics = Metrics()
    notifier = RuntimeNotifier(runtime, on_failure=lambda: metrics.enqueue_failed(NOTIFY_TASK))
    return create_app(
        settings,
        notifier=notifier,
        readiness_probes=[redis_probe(runtime), *extra_probes],
        runtime=runtime,
        metrics=metrics,
    )
