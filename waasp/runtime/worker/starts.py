"""Count each start of a task in the broker just before it runs, and stop the ones that must
not run.

``broker_max_deliveries`` counts starts, not deliveries: a message that keeps killing its
workers is dead-lettered when it is about to start once too often, while the messages those
workers had only prefetched are redelivered freely. The same step checks that this worker still
owns the entry: one that another worker claimed while this one stalled is dropped, not run.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import structlog

from waasp.runtime.broker import (
    ANY_REDIS_ERROR,
    Broker,
    Outages,
    RawDelivery,
    StartVerdict,
    check_cancelled,
)
from waasp.runtime.message import DecodeError, decode_message
from waasp.runtime.worker.inflight import Inflight
from waasp.runtime.worker.outcomes import max_deliveries_outcome
from waasp.runtime.worker.settler import Settler

log = structlog.get_logger("waasp.runtime.worker.starts")

Waiter = asyncio.Future[StartVerdict]  # an executor waiting for its start's verdict


class StartGate:
    """Marks deliveries started before their tasks run. ``run`` sends the marks: executors
    that start in the same loop turn share one round trip, and wake together."""

    def __init__(
        self,
        broker: Broker,
        consumer: str,
        max_starts: int,
        inflight: Inflight,
        settler: Settler,
        *,
        outages: Outages | None = None,
    ) -> None:
        self.broker = broker
        self.guard = (outages or Outages()).guard("starts")
        self.consumer = consumer
        self.max_starts = max_starts
        self.inflight = inflight
        self.settler = settler
        self._waiting: list[tuple[RawDelivery, asyncio.Future[StartVerdict]]] = []
        self._wake = asyncio.Event()

    async def begin(self, delivery: RawDelivery) -> bool:
        """Count this start and tell whether the task may run; wait while Redis is away, since
        a task must not run before its start is counted. A delivery that may not run is let
        go here (and, if dead-lettered, recorded FAILURE)."""
        future: asyncio.Future[StartVerdict] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._wake.set()
        try:
            verdict = await future
        except asyncio.CancelledError:
            future.cancel()  # it will not run: a batch not yet sent leaves it out
            raise
        if verdict is StartVerdict.RUN:
            return True
        with structlog.contextvars.bound_contextvars(
            queue=delivery.queue, entry_id=delivery.entry_id, **_identity(delivery)
        ):
            if verdict is StartVerdict.DEAD:
                log.error("delivery_dead_lettered", reason="max_deliveries", starts=self.max_starts)
                outcome = max_deliveries_outcome(delivery, self.consumer, self.max_starts)
                self.settler.settled_elsewhere(delivery, outcome)
            else:
                # Another worker claimed it while this one stalled, and runs it.
                log.warning("delivery_dropped", reason="lease_lost")
        self.inflight.remove([delivery])
        return False

    async def run(self) -> None:
        """Send the marks executors wait for, a batch at a time, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = [(d, f) for d, f in self._waiting if not f.done()]
            self._waiting = []
            by_lane: dict[tuple[str, int], list[tuple[RawDelivery, Waiter]]] = defaultdict(list)
            for delivery, future in batch:
                by_lane[delivery.lane].append((delivery, future))
            try:
                # Every lane's marks first, then the answers: executors of one batch wake
                # together even when it spans priorities, so they stay in step.
                answers: list[tuple[tuple[RawDelivery, Waiter], StartVerdict]] = []
                for lane, items in by_lane.items():
                    verdicts = await self._mark(lane, [d.entry_id for d, _ in items])
                    answers += zip(items, verdicts, strict=True)
                for (_, future), verdict in answers:
                    if not future.done():
                        future.set_result(verdict)
            finally:
                for _, future in batch:
                    future.cancel()  # the worker is stopping: what was not answered never runs
            check_cancelled()  # redis-py can return normally from a command cancelled mid-flight

    async def _mark(self, lane: tuple[str, int], entry_ids: list[str]) -> list[StartVerdict]:
        # A task must not run before its start is counted: wait Redis out (a refusal that
        # waiting cannot cure stops the worker, as in every other loop).
        queue, priority = lane
        while True:
            try:
                verdicts = await self.broker.start(
                    queue, self.consumer, entry_ids, self.max_starts, priority
                )
            except ANY_REDIS_ERROR as exc:
                log.debug("start_mark_failed", queue=queue, error=str(exc))
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            return verdicts


def _identity(delivery: RawDelivery) -> dict[str, str]:
    try:
        message = decode_message(delivery.raw)
    except DecodeError:
        return {}
    return {"task_id": message.id, "task": message.task}
