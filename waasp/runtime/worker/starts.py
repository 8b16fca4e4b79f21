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

from waasp.runtime.backoff import Backoff
from waasp.runtime.broker import REDIS_ERRORS, Broker, RawDelivery, StartVerdict
from waasp.runtime.message import DecodeError, decode_message
from waasp.runtime.worker.executor import max_deliveries_outcome
from waasp.runtime.worker.inflight import Inflight
from waasp.runtime.worker.settler import Settler

log = structlog.get_logger("waasp.runtime.worker.starts")


class StartGate:
    """Marks deliveries started before their tasks run; executors starting in the same loop
    turn share one round trip."""

    def __init__(
        self,
        broker: Broker,
        consumer: str,
        max_starts: int,
        inflight: Inflight,
        settler: Settler,
    ) -> None:
        self.broker = broker
        self.consumer = consumer
        self.max_starts = max_starts
        self.inflight = inflight
        self.settler = settler
        self._waiting: list[tuple[RawDelivery, asyncio.Future[StartVerdict]]] = []
        self._lock = asyncio.Lock()

    async def begin(self, delivery: RawDelivery) -> bool:
        """Count this start and tell whether the task may run; wait while Redis is away, since
        a task must not run before its start is counted. A delivery that may not run is let
        go here (and, if dead-lettered, recorded FAILURE)."""
        verdict = await self._verdict(delivery)
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

    async def _verdict(self, delivery: RawDelivery) -> StartVerdict:
        future: asyncio.Future[StartVerdict] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        try:
            async with self._lock:
                if not future.done():
                    # Let the executors woken with this one add their deliveries to the batch.
                    await asyncio.sleep(0)
                    await self._flush()
        except asyncio.CancelledError:
            future.cancel()  # it will not run: a batch not yet sent leaves it out
            raise
        return future.result()

    async def _flush(self) -> None:
        batch, self._waiting = [(d, f) for d, f in self._waiting if not f.done()], []
        by_queue: dict[str, list[tuple[RawDelivery, asyncio.Future[StartVerdict]]]] = defaultdict(
            list
        )
        for delivery, future in batch:
            by_queue[delivery.queue].append((delivery, future))
        try:
            for queue, items in by_queue.items():
                verdicts = await self._mark(queue, [delivery.entry_id for delivery, _ in items])
                for (_, future), verdict in zip(items, verdicts, strict=True):
                    if not future.done():
                        future.set_result(verdict)
        except BaseException:
            # Cancelled mid-batch: whoever takes the lock next sends the rest.
            self._waiting[:0] = [(d, f) for d, f in batch if not f.done()]
            raise

    async def _mark(self, queue: str, entry_ids: list[str]) -> list[StartVerdict]:
        backoff = Backoff()
        while True:
            try:
                return await self.broker.start(queue, self.consumer, entry_ids, self.max_starts)
            except REDIS_ERRORS as exc:
                log.warning("start_mark_failed", queue=queue, error=str(exc))
                await backoff.sleep()


def _identity(delivery: RawDelivery) -> dict[str, str]:
    try:
        message = decode_message(delivery.raw)
    except DecodeError:
        return {}
    return {"task_id": message.id, "task": message.task}
