"""Looking into queues without taking from them: contents, and one task found where it sits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from waasp.runtime import Runtime
from waasp.runtime.broker import Place
from waasp.runtime.keys import GROUP

ALL_PLACES = frozenset(Place)


@pytest.fixture
async def rt(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """A runtime of its own under the test's key prefix, with an ``add`` task."""
    runtime = Runtime("peek", broker_url=redis_url, key_prefix=key_prefix, environ={})

    @runtime.task(name="tests.peek.add")
    async def add(a: int, b: int = 0) -> int:
        return a + b

    yield runtime
    await runtime.close()


async def test_contents_list_waiting_in_order_and_delayed_by_due_time(rt: Runtime) -> None:
    """Waiting messages come oldest first, delayed ones next due first, with both totals."""
    add = rt.tasks["tests.peek.add"]
    sent = [await add.delay(i, b=i) for i in range(5)]
    later = await add.apply_async((100,), countdown=600)
    sooner = await add.apply_async((50,), countdown=300)

    found = await rt.broker.peek.contents("default", limit=3)

    assert (found.waiting_total, found.delayed_total) == (5, 2)
    assert [x.message.id for x in found.waiting if x.message] == [r.id for r in sent[:3]]
    assert [x.message.args for x in found.waiting if x.message] == [(0,), (1,), (2,)]
    assert {x.place for x in found.waiting} == {Place.WAITING}
    assert [x.message.id for x in found.delayed if x.message] == [sooner.id, later.id]
    first_due = found.delayed[0].due_ms
    assert first_due is not None and 299_000 < first_due - found.now_ms <= 300_000
    assert found.waiting[0].entry_id is not None and found.delayed[0].entry_id is None


async def test_delivered_messages_are_in_flight_not_waiting(rt: Runtime) -> None:
    """An entry a worker read and has not acknowledged leaves the waiting list."""
    add = rt.tasks["tests.peek.add"]
    first, second = await add.delay(1), await add.delay(2)
    await rt.broker.ensure_group("default")
    taken = await rt.broker.read(["default"], "consumer-1", count=1, block_ms=None)
    assert len(taken) == 1

    found = await rt.broker.peek.contents("default", limit=10)
    assert found.waiting_total == 1
    assert [x.message.id for x in found.waiting if x.message] == [second.id]
    held = await rt.broker.peek.find("default", first.id, ALL_PLACES, scan=100)
    assert held is not None and held.place is Place.IN_FLIGHT
    assert held.entry_id == taken[0].entry_id


async def test_find_locates_a_task_in_each_place(rt: Runtime) -> None:
    """A task is found waiting, delayed or dead-lettered, with its arguments; else None."""
    add = rt.tasks["tests.peek.add"]
    waiting = await add.delay(1, b=2)
    delayed = await add.apply_async((3,), countdown=600, task_id="odd*id[with]?glob\\chars")
    dead_id = await rt.dlq.send("tests.peek.add", (7, 8), reason="manual")
    dead = (await rt.dlq.get(dead_id)).message
    assert dead is not None
    peek = rt.broker.peek

    found = await peek.find("default", waiting.id, ALL_PLACES, scan=100)
    assert found is not None and found.place is Place.WAITING
    assert found.message is not None and found.message.kwargs == {"b": 2}
    found = await peek.find("default", delayed.id, ALL_PLACES, scan=100)
    assert found is not None and found.place is Place.DELAYED and found.due_ms
    found = await peek.find("default", dead.id, ALL_PLACES, scan=100)
    assert found is not None and found.place is Place.DEAD
    assert found.message is not None and found.message.args == (7, 8)
    assert await peek.find("default", dead.id, {Place.WAITING, Place.DELAYED}, 100) is None
    assert await peek.find("default", "no-such-task", ALL_PLACES, scan=100) is None
    assert await peek.find("elsewhere", waiting.id, ALL_PLACES, scan=100) is None


async def test_find_is_not_fooled_by_an_argument_that_looks_like_the_id(rt: Runtime) -> None:
    """A message whose kwargs hold ``"id": X`` is not task X's message."""
    add = rt.tasks["tests.peek.add"]
    target = await add.apply_async((1,), countdown=600, task_id="target-id")
    await add.delay(0, b=0)
    decoy = await add.apply_async(kwargs={"id": "target-id"}, queue="other")
    assert await rt.broker.peek.find("other", "target-id", ALL_PLACES, scan=100) is None
    found = await rt.broker.peek.find("default", target.id, ALL_PLACES, scan=100)
    assert found is not None and found.place is Place.DELAYED
    assert decoy.id != target.id


async def test_undecodable_entries_are_shown_raw(rt: Runtime) -> None:
    """Bytes that are no message are listed with their raw text and no task."""
    await rt.broker.enqueue("default", b"not json at all")
    found = await rt.broker.peek.contents("default", limit=10)
    assert found.waiting_total == 1
    assert found.waiting[0].message is None and found.waiting[0].raw == b"not json at all"


async def test_a_missing_queue_is_empty(rt: Runtime) -> None:
    """A queue nothing was sent to has no contents and holds no task."""
    found = await rt.broker.peek.contents("never-used", limit=10)
    assert (found.waiting_total, found.delayed_total, found.waiting, found.delayed) == (
        0,
        0,
        [],
        [],
    )
    assert await rt.broker.peek.find("never-used", "x", ALL_PLACES, scan=10) is None


async def test_scan_bound_limits_the_search(rt: Runtime) -> None:
    """A task deeper in the stream than ``scan`` entries is not looked at."""
    add = rt.tasks["tests.peek.add"]
    await rt.send_many([add.s(i) for i in range(600)])
    last = await add.delay(999)
    assert await rt.broker.peek.find("default", last.id, {Place.WAITING}, scan=500) is None
    assert await rt.broker.peek.find("default", last.id, {Place.WAITING}, scan=1000) is not None
    groups = await rt.broker.client.xinfo_groups(rt.keys.queue("default").stream)
    assert all(g["name"].decode() != GROUP for g in groups)  # peeking created no group
