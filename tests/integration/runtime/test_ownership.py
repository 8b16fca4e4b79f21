"""The broker's atomic transitions decide by ownership: only the consumer that holds an entry
settles it or starts its task, starts are counted across claims and hand-backs, and a record
from an earlier delivery never replaces a later one's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from waasp.runtime import RETRY, SUCCESS, Runtime, TaskState
from waasp.runtime.broker import Broker, RawDelivery, SettleOp, StartVerdict
from waasp.runtime.message import ResultRecord, TaskMessage, TaskMeta, encode_message
from waasp.runtime.worker.admission import Admission
from waasp.runtime.worker.inflight import Inflight
from waasp.runtime.worker.settler import Settler
from waasp.runtime.worker.starts import StartGate

QUEUE = "default"


async def delivered(broker: Broker, consumer: str, task_id: str = "t1") -> RawDelivery:
    """Enqueue one message and read it as ``consumer``."""
    await broker.ensure_group(QUEUE)
    await broker.register_queues([QUEUE])
    await broker.enqueue(QUEUE, encode_message(TaskMessage(id=task_id, task="app.t")))
    (delivery,) = await broker.read([QUEUE], consumer, 10, None)
    return delivery


async def taken_over(broker: Broker, consumer: str) -> RawDelivery:
    """Claim the queue's only pending entry for ``consumer``, as a reclaim does."""
    (delivery,) = await broker.reclaim(QUEUE, consumer, 0, 10)
    return delivery


async def test_a_consumer_that_lost_its_entry_cannot_settle_it(runtime: Runtime) -> None:
    """A retry from the consumer that lost the entry is refused and reported; the owner's
    acknowledgement settles it."""
    broker = runtime.broker
    late = await delivered(broker, "c1")
    await taken_over(broker, "c2")
    message = TaskMessage(id="t1", task="app.t")
    retry = SettleOp.retry(late.entry_id, message.next_attempt(None), 60_000)
    assert await broker.settle(QUEUE, "c1", [retry]) == [late.entry_id]
    q = runtime.keys.queue(QUEUE)
    assert await broker.client.zcard(q.delayed) == 0, "no retry was scheduled"
    assert await broker.owned(QUEUE, "c2") == [late.entry_id], "still the owner's"
    assert await broker.settle(QUEUE, "c2", [SettleOp.ack(late.entry_id)]) == []
    assert await broker.client.xlen(q.stream) == 0


async def test_starts_are_counted_across_claims_until_the_limit(runtime: Runtime) -> None:
    """Each start is counted for the entry's owner; a consumer that lost the entry may not
    start it; past the limit the entry is dead-lettered instead of started."""
    broker = runtime.broker
    first = await delivered(broker, "c1")
    assert (await broker.start(QUEUE, "c1", [first.entry_id], 2)).verdicts == [StartVerdict.RUN]
    await taken_over(broker, "c2")
    assert (await broker.start(QUEUE, "c1", [first.entry_id], 2)).verdicts == [StartVerdict.LOST]
    assert (await broker.start(QUEUE, "c2", [first.entry_id], 2)).verdicts == [StartVerdict.RUN]
    third = await taken_over(broker, "c3")
    assert third.deliveries == 3
    assert (await broker.start(QUEUE, "c3", [first.entry_id], 2)).verdicts == [StartVerdict.DEAD]
    (letter,) = await runtime.dlq.list()
    assert (letter.reason, letter.deliveries) == ("max_deliveries", 3)
    assert letter.error is not None and letter.error.message == "started 2 times without finishing"
    q = runtime.keys.queue(QUEUE)
    assert await broker.client.xlen(q.stream) == 0
    assert await broker.client.exists(q.starts) == 0


async def test_prefetched_entries_are_claimed_without_being_counted(runtime: Runtime) -> None:
    """Claims alone (a crashing worker's prefetch) count nothing: the entry still starts."""
    broker = runtime.broker
    delivery = await delivered(broker, "c0")
    for consumer in ("c1", "c2", "c3", "c4"):
        await taken_over(broker, consumer)
    assert (await broker.start(QUEUE, "c4", [delivery.entry_id], 1)).verdicts == [StartVerdict.RUN]


async def test_a_hand_back_keeps_the_start_count(runtime: Runtime) -> None:
    """An entry handed back at shutdown keeps its count under its new id."""
    broker = runtime.broker
    delivery = await delivered(broker, "c1")
    assert (await broker.start(QUEUE, "c1", [delivery.entry_id], 1)).verdicts == [StartVerdict.RUN]
    assert await broker.release(QUEUE, "c1", [delivery.entry_id]) == 1
    (again,) = await broker.read([QUEUE], "c2", 10, None)
    assert again.entry_id != delivery.entry_id
    assert (await broker.start(QUEUE, "c2", [again.entry_id], 1)).verdicts == [StartVerdict.DEAD]


def record(state: str, entry_id: str, deliveries: int, result: object = None) -> ResultRecord:
    """A task record written by the delivery (``entry_id``, ``deliveries``)."""
    meta = TaskMeta("t1", TaskState(state), result=result, entry_id=entry_id, deliveries=deliveries)
    return ResultRecord(meta)


@pytest.mark.parametrize(
    ("later", "stored"),
    [
        (record("RETRY", "5-0", 1), False),  # the entry's earlier delivery
        (record("FAILURE", "4-9", 3), False),  # an older entry (an earlier attempt)
        (record("SUCCESS", "5-0", 2, "again"), True),  # the same delivery
        (record("FAILURE", "5-0", 3), True),  # a later delivery of the entry
        (record("STARTED", "6-0", 1), True),  # a later entry (a retry, a replay)
        (ResultRecord(TaskMeta("t1", RETRY)), True),  # no delivery: stored as before
    ],
)
async def test_a_record_from_an_earlier_delivery_never_replaces_a_later_one(
    runtime: Runtime, later: ResultRecord, stored: bool
) -> None:
    """The result backend keeps the record of the latest delivery it has seen."""
    results = runtime.results
    assert await results.store_many([record("SUCCESS", "5-0", 2, "first")]) == [True]
    assert await results.store_many([later]) == [stored]
    meta = await results.get_meta("t1")
    expected = later.meta if stored else TaskMeta("t1", SUCCESS, result="first")
    assert (meta.state, meta.result) == (expected.state, expected.result)


async def test_executors_starting_together_share_one_round_trip(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty deliveries starting in the same loop turn are counted by one script call."""
    broker = runtime.broker
    await broker.ensure_group(QUEUE)
    for i in range(20):
        await broker.enqueue(QUEUE, encode_message(TaskMessage(id=f"t{i}", task="app.t")))
    deliveries = await broker.read([QUEUE], "c1", 20, None)
    calls: list[int] = []
    start = broker.start

    async def counted(
        queue: str,
        consumer: str,
        ids: Sequence[str],
        most: int,
        task_ids: Sequence[str] = (),
        priority: int = 0,
    ) -> Any:
        calls.append(len(ids))
        return await start(queue, consumer, ids, most, task_ids, priority)

    monkeypatch.setattr(broker, "start", counted)  # counts the calls; Redis is real
    settler = Settler(broker, runtime.results, "c1", lambda _: None)
    admission = Admission(broker, "c1", {}, {}, 30_000, frozenset)  # no limits: no calls
    gate = StartGate(broker, "c1", 5, Inflight(20), settler, admission)
    service = asyncio.create_task(gate.run())
    try:
        assert await asyncio.gather(*(gate.begin(d) for d in deliveries)) == [True] * 20
    finally:
        service.cancel()
    assert calls == [20]
    starts = await broker.client.hgetall(runtime.keys.queue(QUEUE).starts)
    assert sorted(starts.values()) == [b"1"] * 20
