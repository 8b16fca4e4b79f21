"""Priorities meet the start gate's other duties: paused queues, rate limits, concurrency
caps, revokes and expiry each act on the stream (queue, priority) a delivery came from."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.runtime import apps, limited
from tests.integration.runtime.conftest import wait_settled
from waasp.runtime import Runtime, TaskRevoked, Worker
from waasp.runtime.broker import RawDelivery, StartVerdict
from waasp.runtime.keys import GROUP
from waasp.runtime.message import encode_message
from waasp.runtime.worker.admission import Admission
from waasp.runtime.worker.pauses import PauseWatch
from waasp.runtime.worker.reader import QueueReader


async def test_a_paused_queues_priority_entry_goes_back_to_its_own_stream(
    runtime: Runtime,
) -> None:
    """An entry read from priority 4's stream before its queue was paused is handed back to
    priority 4's stream: waiting there again, held by no one."""
    await apps.ping.apply_async(("p",), priority=4)
    for level in (0, 4):
        await runtime.broker.ensure_group("default", level)
    [delivery] = await runtime.broker.read_best({"default": (4,)}, "c1", 5)
    assert delivery.lane == ("default", 4)
    admission = Admission(
        runtime.broker, "c1", runtime.tasks, {}, 30_000, lambda: frozenset({"default"})
    )
    refused = await admission.admit(delivery.lane, [delivery])
    assert refused == {delivery.entry_id: StartVerdict.PAUSED}
    stream = runtime.keys.queue("default").stream_at(4)
    assert (await runtime.broker.client.xpending(stream, GROUP))["pending"] == 0
    assert await runtime.broker.client.xlen(stream) == 1


async def test_the_reader_leaves_out_a_paused_queues_priorities(runtime: Runtime) -> None:
    """A paused queue's priority streams are not read; the worker's other queue is, and the
    paused queue's priority is read once it resumes."""
    await apps.ping.apply_async(("p",), priority=3)
    await apps.urgent_ping.delay("u")
    for queue, level in (("default", 0), ("default", 3), ("high", 0)):
        await runtime.broker.ensure_group(queue, level)
    watch = PauseWatch(runtime.broker)
    await runtime.control.pause("default")
    await watch.refresh()
    reader = QueueReader(runtime.broker, ["default", "high"], "c1", watch)
    assert [d.lane for d in await reader.read(4, None)] == [("high", 0)]
    assert await reader.read(4, None) == []
    await runtime.control.resume("default")
    await watch.refresh()
    assert [d.lane for d in await reader.read(4, None)] == [("default", 3)]


async def test_a_rate_limited_priority_task_is_deferred_into_its_priority(
    runtime: Runtime,
) -> None:
    """Tasks a queue rate limit defers wait in the delay set and come back into their own
    priority's stream: each runs once, from that stream, neither retried nor dead-lettered."""
    # A deferral left pending in its stream would only come back by a reclaim: none here.
    runtime.conf.update(
        broker_max_deliveries=1,
        broker_visibility_timeout=600,
        task_queue_rate_limits={"default": "20/s"},
    )
    results = await runtime.send_many(
        [apps.in_order.s("rl", f"t{i}").set(priority=5) for i in range(4)]
    )
    await runtime.broker.register_queues(["default"])
    await asyncio.wait_for(Worker(runtime, ["default"], 4, burst=True).run(), 60)
    assert [await r.get(timeout=10) for r in results] == [f"t{i}" for i in range(4)]
    raw = await runtime.broker.client.lrange(apps.order_key(runtime, "rl"), 0, -1)
    assert sorted(item.decode() for item in raw) == [f"t{i}:5:0" for i in range(4)]
    assert sum((await runtime.dlq.count()).values()) == 0
    stream = runtime.keys.queue("default").stream_at(5)
    assert await runtime.broker.client.xlen(stream) == 0


async def test_concurrency_leases_are_kept_per_stream(runtime: Runtime) -> None:
    """Entries of two priorities with the same entry id (ids are unique per stream only)
    hold a lease each, and giving one back leaves the other's."""
    message = runtime.build_message(limited.capped.name, (0.1,), {})
    raw = encode_message(message)
    plain = RawDelivery("default", "7-0", raw, priority=0)
    better = RawDelivery("default", "7-0", raw, priority=2)
    admission = Admission(runtime.broker, "c1", runtime.tasks, {}, 30_000, frozenset)
    assert await admission.admit(plain.lane, [plain]) == {}
    assert await admission.admit(better.lane, [better]) == {}
    assert await runtime.broker.slots.held(limited.capped.name) == 2
    await admission.release([plain])
    assert await runtime.broker.slots.held(limited.capped.name) == 1
    assert len(admission.leases_by_task()[limited.capped.name]) == 1
    await admission.release_all()
    assert await runtime.broker.slots.held(limited.capped.name) == 0


async def test_revoked_and_expired_priority_tasks_are_dropped_from_their_stream(
    runtime: Runtime,
) -> None:
    """A revoked priority-6 task and an expired priority-2 task never run: both end REVOKED
    with their reason, acknowledged in their own streams; a priority-8 one beside them runs."""
    revoked = await apps.ping.apply_async(("r",), priority=6)
    await revoked.revoke()
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = await apps.ping.apply_async(("e",), priority=2, expires=past)
    fresh = await apps.ping.apply_async(("f",), priority=8)
    await Worker(runtime, ["default"], 2, burst=True).run()
    for result, reason in ((revoked, "revoked"), (expired, "expired")):
        with pytest.raises(TaskRevoked) as caught:
            await result.get(timeout=10)
        assert caught.value.reason == reason
    assert await fresh.get(timeout=10) == "f"
    await wait_settled(runtime)
    q = runtime.keys.queue("default")
    for level in (2, 6, 8):
        assert await runtime.broker.client.xlen(q.stream_at(level)) == 0
    assert sum((await runtime.dlq.count()).values()) == 0
