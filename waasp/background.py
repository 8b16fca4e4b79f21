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
MAX_BATCH = 1000


class RuntimeNotifier:
    """Enqueues ``notify_blocked_sender`` for each blocked check: batched, bounded, never
    raising.

    Blocked checks only append to a buffer; one flusher sends what has gathered with
    ``send_many`` (one round trip per batch), so a flood of strangers costs the API a
    pipeline now and then rather than a Redis round trip per check.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        timeout: float = ENQUEUE_TIMEOUT,
        on_failure: Callable[[int], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.timeout = timeout
        self.on_failure = on_failure
        self._skip_until = 0.0
        self._pending: list[tuple[str, str | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def sender_blocked(self, sender_id: str, channel: str | None) -> None:
        """Queue the notification for the flusher; when the broker just failed, count it lost."""
        if time.monotonic() < self._skip_until:
            self._failed(1, "broker recently unreachable")
            return
        self._pending.append((sender_id, channel))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="notification-flusher")

    async def aclose(self) -> None:
        """Send what is still buffered (bounded by the timeout)."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher], timeout=self.timeout * 2)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                task = self.runtime.get_task(NOTIFY_TASK)
                async with asyncio.timeout(self.timeout):
                    await self.runtime.send_many([task.s(s, c) for s, c in batch])
            except Exception as exc:
                self._skip_until = time.monotonic() + COOL_DOWN
                self._failed(len(batch), str(exc) or type(exc).__name__)

    def _failed(self, count: int, error: str) -> None:
        log.warning("notification_enqueue_failed", count=count, error=error)
        if self.on_failure is not None:
            self.on_failure(count)


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

    def lost(count: int) -> None:
        metrics.enqueue_failures.labels(task=NOTIFY_TASK).inc(count)

    notifier = RuntimeNotifier(runtime, on_failure=lost)
    app = create_app(
        settings,
        notifier=notifier,
        readiness_probes=[redis_probe(runtime), *extra_probes],
        runtime=runtime,
        metrics=metrics,
    )

    async def flush(_app: web.Application) -> None:
        await notifier.aclose()

    app.on_shutdown.append(flush)
    return app
