"""Count each start of a task in the broker just before it runs, and stop the ones that must
not run.

``broker_max_deliveries`` counts starts, not deliveries: a message that keeps killing its
workers is dead-lettered when it is about to start once too often, while the messages those
workers had only prefetched are redelivered freely. The same step checks that this worker still
owns the entry: one that another worker claimed while this one stalled is dropped, not run.
And, in the same round trip, it reads which of the tasks are revoked, and the server's clock:
a revoked task, or one past its ``expires`` deadline, is settled REVOKED without running,
wherever it waited before (stream, delay set, prefetch buffer, retry).

Before the starts are counted, the batch passes admission (paused queues, concurrency caps,
rate limits: admission.py); what it turns away never counts as a start.
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
from waasp.runtime.hooks import send_revoked
from waasp.runtime.message import EXPIRED_REASON, REVOKED_REASON, TaskMessage
from waasp.runtime.signals import task_revoked
from waasp.runtime.worker.admission import Admission
from waasp.runtime.worker.flow import Flow, in_workflow
from waasp.runtime.worker.inflight import Inflight
from waasp.runtime.worker.outcomes import decoded, max_deliveries_outcome, revoked_outcome
from waasp.runtime.worker.settler import Settler

log = structlog.get_logger("waasp.runtime.worker.starts")

# A start's verdict, the delivery's message (None if undecodable) and, if it must not run
# although its start was counted, why: revoked or expired.
Verdict = tuple[StartVerdict, TaskMessage | None, str | None]
Waiter = asyncio.Future[Verdict]  # an executor waiting for its start's verdict


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
        admission: Admission,
        *,
        outages: Outages | None = None,
        flow: Flow | None = None,
    ) -> None:
        self.broker = broker
        self.admission = admission
        self.flow = flow
        self.guard = (outages or Outages()).guard("starts")
        self.consumer = consumer
        self.max_starts = max_starts
        self.inflight = inflight
        self.settler = settler
        self._waiting: list[tuple[RawDelivery, Waiter]] = []
        self._wake = asyncio.Event()

    async def begin(self, delivery: RawDelivery) -> bool:
        """Count this start and tell whether the task may run; wait while Redis is away, since
        a task must not run before its start is counted. A delivery that may not run is let
        go here (if dead-lettered, recorded FAILURE; if revoked or expired, REVOKED)."""
        future: Waiter = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._wake.set()
        try:
            verdict, message, revoked = await future
        except asyncio.CancelledError:
            future.cancel()  # it will not run: a batch not yet sent leaves it out
            raise
        if verdict is StartVerdict.RUN and message is not None and revoked is not None:
            log.info("task_revoked", task_id=message.id, task=message.task, reason=revoked)
            self.settler.finish(
                delivery, revoked_outcome(delivery, message, self.consumer, revoked)
            )
            if task_revoked.receivers:
                await send_revoked(None, message, None, revoked)
            return False
        if verdict is StartVerdict.RUN:
            return True
        with structlog.contextvars.bound_contextvars(
            queue=delivery.queue, entry_id=delivery.entry_id, **_identity(message)
        ):
            if verdict in (StartVerdict.DEFERRED, StartVerdict.PAUSED):
                pass  # moved to the delay set, or handed back: admission.py
            elif verdict is StartVerdict.DEAD:
                log.error("delivery_dead_lettered", reason="max_deliveries", starts=self.max_starts)
                outcome = max_deliveries_outcome(delivery, self.consumer, self.max_starts)
                self.settler.settled_elsewhere(delivery, outcome)
                if self.flow is not None and message is not None and in_workflow(message):
                    # Dead-lettered already: best effort, so its chain or chord fails visibly.
                    await self.flow.advance(message, outcome)
            else:
                # Another worker claimed it while this one stalled, and runs it.
                log.warning("delivery_dropped", reason="lease_lost")
        self.inflight.remove([delivery])
        return False

    def ended(self, delivery: RawDelivery) -> None:
        """The task of ``delivery`` ended: give its concurrency lease back soon."""
        self.admission.ended(delivery)
        self._wake.set()

    async def run(self) -> None:
        """Send the marks executors wait for, a batch at a time, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.admission.flush()
            batch = [(d, f) for d, f in self._waiting if not f.done()]
            self._waiting = []
            by_lane: dict[tuple[str, int], list[tuple[RawDelivery, Waiter]]] = defaultdict(list)
            for delivery, future in batch:
                by_lane[delivery.lane].append((delivery, future))
            try:
                # Every lane's marks first, then the answers: executors of one batch wake
                # together even when it spans priorities, so they stay in step.
                answers: list[tuple[tuple[RawDelivery, Waiter], Verdict]] = []
                for lane, items in by_lane.items():
                    verdicts = await self._mark(lane, [d for d, _ in items])
                    answers += zip(items, verdicts, strict=True)
                for (_, future), verdict in answers:
                    if not future.done():
                        future.set_result(verdict)
            finally:
                for _, future in batch:
                    future.cancel()  # the worker is stopping: what was not answered never runs
            check_cancelled()  # redis-py can return normally from a command cancelled mid-flight

    async def _mark(self, lane: tuple[str, int], deliveries: list[RawDelivery]) -> list[Verdict]:
        queue, priority = lane
        messages = {d.entry_id: decoded(d) for d in deliveries}
        # A task must not run before its start is counted: wait Redis out (a refusal that
        # waiting cannot cure stops the worker, as in every other loop). Each step may be
        # repeated: a lease already held is kept, an entry settled already is left alone.
        while True:
            try:
                refused = await self.admission.admit(lane, deliveries)
                admitted = [d for d in deliveries if d.entry_id not in refused]
                ids = [d.entry_id for d in admitted]
                task_ids = [m.id for d in admitted if (m := messages[d.entry_id]) is not None]
                reply = (
                    await self.broker.start(
                        queue, self.consumer, ids, self.max_starts, task_ids, priority
                    )
                    if ids
                    else None
                )
            except ANY_REDIS_ERROR as exc:
                log.debug("start_mark_failed", queue=queue, error=str(exc))
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            break
        verdicts: dict[str, Verdict] = {
            entry_id: (verdict, messages[entry_id], None) for entry_id, verdict in refused.items()
        }
        if reply is not None:
            flags = iter(reply.revoked)
            for entry_id, verdict in zip(ids, reply.verdicts, strict=True):
                message = messages[entry_id]
                reason = None
                if message is not None:
                    if next(flags):
                        reason = REVOKED_REASON
                    elif message.expires is not None and message.expires <= reply.now:
                        reason = EXPIRED_REASON
                verdicts[entry_id] = (verdict, message, reason)
        # Admitted but not run (dead, lost, revoked, expired): its concurrency lease goes back.
        gone = [
            d
            for d in admitted
            if verdicts[d.entry_id][0] is not StartVerdict.RUN or verdicts[d.entry_id][2]
        ]
        if gone:
            await self.admission.release(gone)
        return [verdicts[d.entry_id] for d in deliveries]


def _identity(message: TaskMessage | None) -> dict[str, str]:
    return {} if message is None else {"task_id": message.id, "task": message.task}
