"""The worker's way out: drain the executors, hand back what was never finished, leave the
consumer groups, and cancel loops until they have really ended."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, RawDelivery
from waasp.runtime.worker.executor import Executor
from waasp.runtime.worker.heartbeat import Heartbeat
from waasp.runtime.worker.holds import Holds
from waasp.runtime.worker.leases import LeaseKeeper
from waasp.runtime.worker.settler import Settler

log = structlog.get_logger("waasp.runtime.worker.shutdown")

CANCEL_AGAIN_AFTER = 0.5


async def cancel_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them to end, cancelling again those that carry on: a
    cancellation that lands in the middle of a Redis command can be lost inside redis-py,
    and a loop that goes on after it would keep its TaskGroup waiting for ever."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_AGAIN_AFTER)


class Drain:
    """Stops one worker's loops in order once its stop event is set."""

    def __init__(
        self,
        broker: Broker,
        name: str,
        queues: Sequence[str],
        buffer: asyncio.Queue[RawDelivery | None],
        *,
        holds: Holds,
        executor: Executor,
        settler: Settler,
        leases: LeaseKeeper,
        heartbeat: Heartbeat,
        timeout: float,
        lanes: Callable[[], Sequence[tuple[str, int]]] | None = None,
    ) -> None:
        self.broker = broker
        self.name = name
        self.queues = queues
        # Every stream it read, as (queue, priority): the queues' and their priorities'.
        self.lanes = lanes or (lambda: [(queue, 0) for queue in self.queues])
        self.buffer = buffer
        self.holds = holds
        self.executor = executor
        self.settler = settler
        self.leases = leases
        self.heartbeat = heartbeat
        self.timeout = timeout

    async def run(
        self,
        reader: asyncio.Task[None],
        executors: list[asyncio.Task[None]],
        services: list[asyncio.Task[None]],
    ) -> None:
        """Let running tasks finish (up to the timeout), then settle, hand back and leave.

        ``services[0]`` is the settler: it is awaited, after ``settler.close()``, so that
        every outcome reaches Redis before the entries left are handed back.
        """
        reader.cancel()
        self.leases.reclaiming = False
        self.holds.close()  # not due yet: handed back below
        while not self.buffer.empty():
            self.buffer.get_nowait()  # never started: handed back below
        for _ in executors:
            self.buffer.put_nowait(None)
        _, late = await asyncio.wait(executors, timeout=self.timeout)
        late = await self._finish_threads(late)
        for task in late:
            task.cancel()
        if late:
            log.warning("tasks_abandoned_at_shutdown", count=len(late))
        await self.settler.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(self.timeout, 1.0)):
                await services[0]
        await self.hand_back()
        await self.leave_groups()
        await cancel_all(services)
        with contextlib.suppress(*ANY_REDIS_ERROR):
            await self.heartbeat.remove()

    async def _finish_threads(self, late: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
        """Wait for the executors of ``late`` whose task runs in a thread; return the others.

        A thread cannot be stopped, so an entry whose thread still runs is never handed back
        (another worker would run it beside the thread): the watchdog renews it until the
        thread ends, and the executor settles it as usual.
        """
        threaded = {task for task in late if self.executor.in_thread(task)}
        if threaded:
            names = sorted(self.executor.running[task].task for task in threaded)
            log.warning("worker_waiting_for_threads", count=len(threaded), tasks=names)
            await asyncio.wait(threaded)
            log.info("worker_threads_finished", count=len(threaded))
        return late - threaded

    async def hand_back(self) -> None:
        """Give whatever this consumer still holds back to the stream for other workers."""
        # Never started, abandoned, or read just as the reader was cancelled.
        for queue, priority in self.lanes():
            try:
                ids = await self.broker.owned(queue, self.name, priority=priority)
                released = await self.broker.release(queue, self.name, ids, priority)
            except ANY_REDIS_ERROR as exc:
                log.warning("hand_back_failed", queue=queue, priority=priority, error=str(exc))
                continue
            if released:
                log.info("entries_handed_back", queue=queue, priority=priority, count=released)

    async def leave_groups(self) -> None:
        """Delete this worker's consumers, unless one still holds entries."""
        # A clean exit deletes them so groups do not collect one per worker that ever ran;
        # one that still holds entries stays for the reaper.
        for queue, priority in self.lanes():
            try:
                gone = await self.broker.workers.forget_consumer(queue, self.name, priority)
            except ANY_REDIS_ERROR as exc:
                log.warning("consumer_not_deleted", queue=queue, error=str(exc))
                continue
            if not gone:
                log.info("consumer_kept", queue=queue, reason="holds entries")
