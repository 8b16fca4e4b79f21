"""Admission: which deliveries may start now, decided just before their starts are counted.

A delivery of a paused queue is handed back to the stream. One whose task is at its
``max_concurrency`` cap, or over its own or its queue's rate limit, moves to the delay set
until its slot (the next free token of the rate, reserved for it; or a short back-off from a
cap): it never waits in a worker's memory, never blocks an executor, and counts neither as a
start (``broker_max_deliveries``) nor as a retry. A start gate batch is admitted together:
one script call per capped task and per rate bucket.

A start of a capped task holds a lease (``broker/slots.py``) until its task ends; the
watchdog renews the leases with the entries', so a dead worker's slots come back after the
visibility timeout.

A batch is of one lane (a queue's priority stream): a delivery handed back returns to its own
stream, and a deferred one is held with its message, which names its priority, so the
promoter puts it back in the right stream.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, RawDelivery, SettleOp, StartVerdict
from waasp.runtime.broker.slots import lease_member
from waasp.runtime.message import DecodeError, TaskMessage
from waasp.runtime.task import Task
from waasp.runtime.worker.outcomes import message_of

log = structlog.get_logger("waasp.runtime.worker.admission")

# Header of a deferred message: rate bucket -> [the slot (epoch ms, Redis's clock) it reserved,
# the message's retries then]. A retry of the message (retries + 1) cannot claim it again.
RATE_SLOTS = "rate_slots"
# Seconds a start refused by a concurrency cap waits, drawn at random so that the waiters of
# one cap do not all come back together.
CAP_BACKOFF = (0.2, 1.0)


@dataclass(slots=True)
class _Candidate:
    delivery: RawDelivery
    message: TaskMessage | None
    task: Task | None
    member: str | None = None  # its concurrency lease, once taken
    delay_ms: int | None = None  # deferred by that much
    slots: dict[str, list[int]] = field(default_factory=dict)  # rate slots reserved now

    def claim(self, bucket: str) -> int:
        """The slot this very attempt reserved in ``bucket`` (0: none)."""
        if self.message is None:
            return 0
        claims = self.message.headers.get(RATE_SLOTS)
        claim = claims.get(bucket) if isinstance(claims, dict) else None
        if not (isinstance(claim, list) and len(claim) == 2):
            return 0
        slot, retries = claim
        if type(slot) is not int or retries != self.message.retries:
            return 0
        return slot

    def deferred_op(self) -> SettleOp:
        assert self.message is not None and self.delay_ms is not None
        headers = {**self.message.headers, RATE_SLOTS: self.slots} if self.slots else None
        message = replace(self.message, headers=headers) if headers else self.message
        return SettleOp.defer(self.delivery.entry_id, message, self.delay_ms)


class Admission:
    """Admits deliveries of one worker against pauses, concurrency caps and rate limits."""

    def __init__(
        self,
        broker: Broker,
        consumer: str,
        tasks: Mapping[str, Task],
        queue_rates: Mapping[str, float],
        lease_ms: int,
        paused: Callable[[], frozenset[str]],
    ) -> None:
        self.broker = broker
        self.consumer = consumer
        self.tasks = tasks
        self.queue_rates = dict(queue_rates)
        self.lease_ms = lease_ms
        self.paused = paused
        self._lock = threading.Lock()  # the watchdog thread reads the leases
        # (lane, entry id) -> (task, member)
        self._leases: dict[tuple[tuple[str, int], str], tuple[str, str]] = {}
        self._ended: list[tuple[str, str]] = []  # leases to give back

    async def admit(
        self, lane: tuple[str, int], deliveries: Sequence[RawDelivery]
    ) -> dict[str, StartVerdict]:
        """Decide a batch of one lane (queue, priority); return the verdicts of the deliveries
        that may not start now (handed back or deferred already), by entry id."""
        queue, priority = lane
        if queue in self.paused():
            ids = [d.entry_id for d in deliveries]
            await self.broker.release(queue, self.consumer, ids, priority)
            return {d.entry_id: StartVerdict.PAUSED for d in deliveries}
        candidates = [self._candidate(d) for d in deliveries]
        await self._take_slots(candidates)
        waiting = [c for c in candidates if c.delay_ms is None and c.message is not None]
        if queue in self.queue_rates:
            await self._take_rate(f"queue:{queue}", self.queue_rates[queue], waiting)
        by_task: dict[str, list[_Candidate]] = defaultdict(list)
        for c in waiting:
            if c.task is not None and c.task.rate is not None and c.delay_ms is None:
                by_task[c.task.name].append(c)
        for name, items in by_task.items():
            rate = items[0].task.rate if items[0].task else None
            assert rate is not None
            await self._take_rate(f"task:{name}", rate, items)
        deferred = [c for c in candidates if c.delay_ms is not None]
        if not deferred:
            return {}
        await self.release([c.delivery for c in deferred])
        ops = [c.deferred_op() for c in deferred]
        await self.broker.settle(queue, self.consumer, ops, priority)
        log.debug("deliveries_deferred", queue=queue, count=len(deferred))
        return {c.delivery.entry_id: StartVerdict.DEFERRED for c in deferred}

    def _candidate(self, delivery: RawDelivery) -> _Candidate:
        try:
            message = message_of(delivery.raw)
        except DecodeError:
            return _Candidate(delivery, None, None)  # the executor dead-letters it
        return _Candidate(delivery, message, self.tasks.get(message.task))

    async def _take_slots(self, candidates: list[_Candidate]) -> None:
        by_task: dict[str, list[_Candidate]] = defaultdict(list)
        for c in candidates:
            if c.task is not None and c.task.max_concurrency is not None:
                queue, priority = c.delivery.lane
                c.member = lease_member(self.consumer, queue, c.delivery.entry_id, priority)
                by_task[c.task.name].append(c)
        for name, items in by_task.items():
            limit = items[0].task.max_concurrency if items[0].task else None
            assert limit is not None
            members = [c.member for c in items if c.member is not None]
            granted = await self.broker.slots.take(name, limit, self.lease_ms, members)
            for c, ok in zip(items, granted, strict=True):
                assert c.member is not None
                if ok:
                    with self._lock:
                        self._leases[(c.delivery.lane, c.delivery.entry_id)] = (name, c.member)
                else:
                    c.member = None
                    c.delay_ms = int(random.uniform(*CAP_BACKOFF) * 1000)

    async def _take_rate(self, bucket: str, rate: float, items: list[_Candidate]) -> None:
        items = [c for c in items if c.delay_ms is None]
        if not items:
            return
        answer = await self.broker.rates.reserve(bucket, rate, [c.claim(bucket) for c in items])
        for c, wait in zip(items, answer.waits_ms, strict=True):
            if wait > 0:
                c.delay_ms = wait
                assert c.message is not None
                c.slots[bucket] = [answer.now_ms + wait, c.message.retries]

    # -- leases -----------------------------------------------------------------------------

    def ended(self, delivery: RawDelivery) -> None:
        """The task of ``delivery`` ended (or will never start): its lease is to be given
        back at the next ``flush``."""
        with self._lock:
            lease = self._leases.pop((delivery.lane, delivery.entry_id), None)
            if lease is not None:
                self._ended.append(lease)

    async def release(self, deliveries: Sequence[RawDelivery]) -> None:
        """Give back the leases of ``deliveries`` now."""
        for delivery in deliveries:
            self.ended(delivery)
        await self.flush()

    async def flush(self) -> None:
        """Give back the leases of ended tasks; on a Redis error they are kept for the next
        flush (and expire meanwhile, at worst)."""
        with self._lock:
            ended, self._ended = self._ended, []
        by_task: dict[str, list[str]] = defaultdict(list)
        for task, member in ended:
            by_task[task].append(member)
        try:
            for task, members in by_task.items():
                await self.broker.slots.release(task, members)
        except ANY_REDIS_ERROR as exc:
            log.debug("slot_release_failed", error=str(exc))
            with self._lock:
                self._ended.extend(ended)

    async def release_all(self) -> None:
        """Give back every lease still held (the worker is leaving)."""
        with self._lock:
            self._ended.extend(self._leases.values())
            self._leases.clear()
        await self.flush()

    def leases_by_task(self) -> dict[str, list[str]]:
        """The leases held now, per task (for the watchdog's renewals)."""
        by_task: dict[str, list[str]] = defaultdict(list)
        with self._lock:
            for task, member in self._leases.values():
                by_task[task].append(member)
        return dict(by_task)
