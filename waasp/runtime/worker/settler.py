"""Write states and results, then acknowledge, in batches: one flush per round trip."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable

import structlog

from waasp.runtime.broker import (
    ANY_REDIS_ERROR,
    Broker,
    Outages,
    RawDelivery,
    ResultBackend,
    SettleOp,
)
from waasp.runtime.message import ResultRecord, TaskMeta
from waasp.runtime.worker.events import EventRecorder
from waasp.runtime.worker.outcomes import Outcome

log = structlog.get_logger("waasp.runtime.worker.settler")

# A STARTED record waits this long for a flush to go out: most tasks end sooner, and then only
# their final record is written (with ``task_track_started``, writing both cost a result write
# per task in a drain, and a round trip per task when tasks trickle in).
STARTED_DELAY = 0.005


class Settler:
    """Collects STARTED states and finished deliveries and flushes them in order.

    A result is stored before its entry is acknowledged, so an acknowledged task always has
    its result; a crash in between only causes a redelivery. While one flush is in flight the
    next batch accumulates, so under load many tasks share each round trip.
    """

    def __init__(
        self,
        broker: Broker,
        results: ResultBackend,
        consumer: str,
        on_settled: Callable[[list[RawDelivery]], None],
        events: EventRecorder | None = None,
        *,
        outages: Outages | None = None,
    ) -> None:
        self.broker = broker
        self.guard = (outages or Outages()).guard("settler")
        self.results = results
        self.consumer = consumer
        self.on_settled = on_settled
        self.events = events  # monitoring events, written last in a flush when due
        self._started: dict[str, TaskMeta] = {}
        self._records: list[ResultRecord] = []
        self._finished: list[tuple[RawDelivery, Outcome]] = []
        self._wake = asyncio.Event()
        self._started_due: asyncio.TimerHandle | None = None
        self._closing = False
        if events is not None:
            events.on_due = self._wake.set

    @property
    def pending(self) -> int:
        """Finished deliveries not yet acknowledged."""
        return len(self._finished)

    def started(self, meta: TaskMeta) -> None:
        """Queue a STARTED record, written with the next flush, at most ``STARTED_DELAY``
        from now; dropped if the task's final record is in that flush."""
        self._started[meta.id] = meta
        if self.events is not None:
            self.events.started(meta)
        if self._started_due is None:
            self._started_due = asyncio.get_running_loop().call_later(STARTED_DELAY, self._wake.set)

    def progress(self, meta: TaskMeta) -> None:
        """Queue a running task's own state (``update_state``): it replaces the task's STARTED
        record or earlier update still queued, and a final record in the same flush wins."""
        self._started[meta.id] = meta
        self._wake.set()

    def settled_elsewhere(self, delivery: RawDelivery, outcome: Outcome) -> None:
        """Queue the record and the event of a delivery settled already (the start gate
        dead-lettered it): its entry is not settled again."""
        if outcome.record is not None:
            self._records.append(outcome.record)
        if self.events is not None:
            self.events.finished(delivery, outcome, None)
        self._wake.set()

    def finish(self, delivery: RawDelivery, outcome: Outcome, seconds: float | None = None) -> None:
        """Queue a finished delivery (``seconds``: how long it ran, for monitoring)."""
        self._finished.append((delivery, outcome))
        if self.events is not None:
            self.events.finished(delivery, outcome, seconds)
        self._wake.set()

    async def close(self) -> None:
        """Flush what is queued, then let ``run`` return."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Flush until closed."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._started or self._records or self._finished or self._events_due():
                await self._flush()
                if self._closing:
                    self._wake.set()  # look again, and return once nothing is left
            elif self._closing:
                return

    async def _flush(self) -> None:
        if self._started_due is not None:
            self._started_due.cancel()
            self._started_due = None
        started, self._started = self._started, {}
        extra, self._records = self._records, []
        finished, self._finished = self._finished, []
        events = self.events.take(force=self._closing) if self.events is not None else None
        done_ids = {o.record.meta.id for _, o in finished if o.record is not None}
        records = [
            ResultRecord(meta) for task_id, meta in started.items() if task_id not in done_ids
        ]
        records += extra
        records += [o.record for _, o in finished if o.record is not None]
        if records:
            await self._persist(functools.partial(self.results.store_many, records), "results")
        ops: dict[tuple[str, int], list[SettleOp]] = defaultdict(list)
        for delivery, outcome in finished:
            ops[delivery.lane].append(outcome.op)
        for lane, lane_ops in ops.items():
            settle = functools.partial(self._settle, lane, lane_ops, finished)
            await self._persist(settle, "acks")
        if finished:
            self.on_settled([delivery for delivery, _ in finished])
        if events is not None and self.events is not None:
            await self._persist(functools.partial(self.events.write, events), "events")

    def _events_due(self) -> bool:
        return self.events is not None and (
            self.events.due or (self._closing and self.events.pending)
        )

    async def _settle(
        self,
        lane: tuple[str, int],
        ops: list[SettleOp],
        finished: list[tuple[RawDelivery, Outcome]],
    ) -> None:
        queue, priority = lane
        lost = set(await self.broker.settle(queue, self.consumer, ops, priority))
        if not lost:
            return
        # Another worker claimed these entries while this one stalled, and settles them; on
        # the result backend its records take precedence over this one's.
        for delivery, outcome in finished:
            if delivery.lane == lane and delivery.entry_id in lost:
                meta = outcome.record.meta if outcome.record is not None else None
                log.warning(
                    "outcome_discarded",
                    queue=queue,
                    entry_id=delivery.entry_id,
                    task_id=meta.id if meta else None,
                    task=meta.name if meta else None,
                    state=outcome.state.value,
                    reason="entry_lost",
                )

    async def _persist(self, write: Callable[[], Awaitable[object]], what: str) -> None:
        # Never drop a batch: the entries stay unacknowledged until the write succeeds, and
        # a refusal that waiting cures (OOM, READONLY, NOREPLICAS...) is waited out too.
        while True:
            try:
                await write()
            except ANY_REDIS_ERROR as exc:
                log.debug("settle_write_failed", what=what, error=str(exc))
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            return
