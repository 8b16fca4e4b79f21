"""Priorities: within a queue a waiting task of a better priority is read before any waiting
task of a worse one, and every guarantee holds for every priority's stream (retries and
delays keep the priority, stale entries are reclaimed, dead letters replay into their level,
queue counts sum the levels)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import runs, wait_settled, wait_until
from waasp.runtime import Runtime, TaskFailed, Worker, monitor
from waasp.runtime.broker import StartVerdict
from waasp.runtime.keys import GROUP
from waasp.runtime.worker.reader import LEVELS_REFRESH_S


async def order(runtime: Runtime, tag: str) -> list[str]:
    """The ``in_order`` starts of ``tag``, in start order."""
    raw = await runtime.broker.client.lrange(apps.order_key(runtime, tag), 0, -1)
    return [item.decode() for item in raw]


async def test_a_better_priority_starts_before_every_unread_worse_one(runtime: Runtime) -> None:
    """A priority-0 task sent behind 1,000 waiting priority-9 tasks starts before every one
    of them: the worker (room for one task) is busy with a held task while they are sent, so
    it has read none of them."""
    worker = Worker(runtime, ["default"], concurrency=1, prefetch_multiplier=1)
    running = asyncio.create_task(worker.run())
    try:
        await apps.in_order.apply_async(("o", "held"), {"hold": True}, priority=9)
        await wait_until(lambda: _started_at_least(runtime, 1), timeout=30)
        await runtime.send_many(
            [apps.in_order.s("o", f"low{i}").set(priority=9) for i in range(1000)]
        )
        await apps.in_order.apply_async(("o", "urgent"), priority=0)
        await apps.release_order(runtime, "o")
        await wait_until(lambda: _started_at_least(runtime, 1002), timeout=120)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
    low = [f"low{i}:9:0" for i in range(1000)]
    assert await order(runtime, "o") == ["held:9:0", "urgent:0:0", *low]


async def _started_at_least(runtime: Runtime, n: int) -> bool:
    return int(await runtime.broker.client.llen(apps.order_key(runtime, "o"))) >= n


async def test_waiting_tasks_run_best_priority_first(runtime: Runtime) -> None:
    """Tasks waiting in five levels when a worker starts run level by level, best first, each
    level in the order it was sent; the task's own ``@task(priority=)`` is its default."""
    for i, priority in enumerate([9, 5, 0, 5, 9, 3, 0]):
        await apps.in_order.apply_async(("w", f"t{i}"), priority=priority)
    own = await apps.low_priority.delay("own")
    await Worker(runtime, ["default"], concurrency=1, prefetch_multiplier=1, burst=True).run()
    assert await order(runtime, "w") == [
        "t2:0:0", "t6:0:0", "t5:3:0", "t1:5:0", "t3:5:0", "t0:9:0", "t4:9:0"
    ]  # fmt: skip
    assert await own.get(timeout=5) == "own"
    assert (await runtime.broker.client.xlen(runtime.keys.queue("default").stream_at(7))) == 0


async def test_retries_and_delays_keep_the_priority(runtime: Runtime) -> None:
    """A delayed priority-3 task is promoted into priority 3's stream, and a priority-6 task
    retried twice runs each attempt from priority 6's stream."""
    delayed = await apps.in_order.apply_async(("d", "late"), countdown=0.3, priority=3)
    retried = await apps.in_order.apply_async(("r", "again", 2), priority=6)
    await Worker(runtime, ["default"], concurrency=2, burst=True).run()
    assert await delayed.get(timeout=5) == "late"
    assert await retried.get(timeout=5) == "again"
    assert await order(runtime, "d") == ["late:3:0"]
    assert await order(runtime, "r") == ["again:6:0", "again:6:1", "again:6:2"]


async def test_a_stale_priority_entry_is_reclaimed_by_another_worker(runtime: Runtime) -> None:
    """An entry of priority 4 read by a consumer that then went silent is claimed after the
    visibility timeout by a live worker, which runs and settles it in priority 4's stream."""
    runtime.conf.update(broker_visibility_timeout=0.5)
    result = await apps.in_order.apply_async(("s", "stale"), priority=4)
    q = runtime.keys.queue("default")
    await runtime.broker.ensure_group("default")
    await runtime.broker.ensure_group("default", 4)
    taken = await runtime.broker.read_best({"default": (4,)}, "gone-worker", 10)
    assert [(d.priority, d.raw != b"") for d in taken] == [(4, True)]
    await Worker(runtime, ["default"], concurrency=1, burst=True).run()
    assert await result.get(timeout=5) == "stale"
    assert await order(runtime, "s") == ["stale:4:0"]
    pending = await runtime.broker.client.xpending(q.stream_at(4), GROUP)
    assert (pending["pending"], await runtime.broker.client.xlen(q.stream_at(4))) == (0, 0)


async def test_a_dead_priority_task_replays_into_its_level(runtime: Runtime) -> None:
    """A priority-8 task that fails for good is dead-lettered with its priority, and a replay
    puts it back into priority 8's stream, where a worker reads it."""
    result = await apps.permanent_error.apply_async(("p",), priority=8)
    await Worker(runtime, ["default"], concurrency=1, burst=True).run()
    with pytest.raises(TaskFailed):
        await result.get(timeout=5)
    await wait_settled(runtime, dead=1)
    [letter] = await runtime.dlq.list()
    assert letter.message is not None and letter.message.priority == 8
    await runtime.dlq.replay(letter.id)
    q = runtime.keys.queue("default")
    client = runtime.broker.client
    assert (await client.xlen(q.stream_at(8)), await client.xlen(q.stream)) == (1, 0)
    [stats] = await monitor.queue_stats(runtime, ["default"])
    assert (stats.waiting, stats.waiting_by_priority) == (1, {"0": 0, "8": 1})
    await Worker(runtime, ["default"], concurrency=1, burst=True).run()
    await wait_settled(runtime, dead=1)
    assert await client.xlen(q.stream_at(8)) == 0


async def test_queue_counts_sum_every_level(runtime: Runtime) -> None:
    """Queue stats count the waiting tasks of every level (sent one by one and by
    ``send_many``), with a figure per level; the plain queue's stats have no such figures."""
    for _ in range(3):
        await apps.ping.delay("x")
    await runtime.send_many([apps.ping.s("y").set(priority=5) for _ in range(2)])
    await apps.ping.apply_async(("z",), priority=9)
    await apps.urgent_ping.delay("plain")
    stats = {s.name: s for s in await monitor.queue_stats(runtime, ["default", "high"])}
    assert stats["default"].waiting == 6
    assert stats["default"].waiting_by_priority == {"0": 3, "5": 2, "9": 1}
    assert (stats["high"].waiting, stats["high"].waiting_by_priority) == (1, {})
    await Worker(runtime, ["default"], concurrency=2, burst=True).run()
    [after] = await monitor.queue_stats(runtime, ["default"])
    assert (after.waiting, after.in_flight) == (0, 0)


async def test_queue_contents_list_waiting_tasks_in_reading_order(runtime: Runtime) -> None:
    """The monitor lists a queue's waiting tasks best priority first, each with its priority,
    and finds a waiting task of any priority by its id."""
    a = await apps.ping.delay("a")
    b = await apps.ping.apply_async(("b",), priority=5)
    c = await apps.ping.apply_async(("c",), priority=2)
    contents = await monitor.queue_contents(runtime, "default", limit=10)
    tasks = contents["waiting"]["tasks"]
    assert contents["waiting"]["total"] == 3
    assert [(t["task_id"], t["priority"]) for t in tasks] == [(a.id, 0), (c.id, 2), (b.id, 5)]
    detail = await monitor.task_detail(runtime, b.id)
    assert detail["message"] is not None
    assert (detail["message"]["place"], detail["message"]["priority"]) == ("waiting", 5)


async def test_a_stopping_worker_hands_back_its_unstarted_priority_entries(
    runtime: Runtime,
) -> None:
    """A worker that stops with a priority-3 task read but not started puts it back in
    priority 3's stream, unacknowledged by nobody, for the next worker."""
    first = await apps.sleepy.apply_async(("h", 0.5), priority=3)
    second = await apps.sleepy.apply_async(("h2", 0.0), priority=3)
    worker = Worker(runtime, ["default"], concurrency=1, prefetch_multiplier=2)
    running = asyncio.create_task(worker.run())
    await wait_until(lambda: _ran(runtime, "sleepy:h"), timeout=20)
    worker.stop()
    await asyncio.wait_for(running, 30)
    assert await first.get(timeout=5) == "h"
    q = runtime.keys.queue("default")
    client = runtime.broker.client
    pending = await client.xpending(q.stream_at(3), GROUP)
    assert (await client.xlen(q.stream_at(3)), pending["pending"]) == (1, 0)
    await Worker(runtime, ["default"], concurrency=1, burst=True).run()
    assert await second.get(timeout=5) == "h2"


async def _ran(runtime: Runtime, tag: str) -> bool:
    return await runs(runtime, tag) >= 1


async def test_starts_are_counted_per_priority_stream(runtime: Runtime) -> None:
    """The start gate counts a priority-2 entry's starts in priority 2's own count (entry ids
    repeat across streams), and dead-letters it into the queue's one dead-letter stream once
    it would start once too often."""
    broker, q = runtime.broker, runtime.keys.queue("default")
    await apps.ping.apply_async(("g",), priority=2)
    await apps.ping.delay("plain")
    for level in (0, 2):
        await broker.ensure_group("default", level)
    taken = await broker.read_best({"default": (2,)}, "c1", 2)
    assert [d.priority for d in taken] == [0, 2]  # the best first
    ids = [taken[1].entry_id]
    reply = await broker.start("default", "c1", ids, 1, priority=2)
    assert reply.verdicts == [StartVerdict.RUN]
    assert await broker.client.hgetall(q.starts) == {}
    reply = await broker.start("default", "c1", ids, 1, priority=2)
    assert reply.verdicts == [StartVerdict.DEAD]
    [letter] = await runtime.dlq.list()
    assert letter.reason == "max_deliveries" and letter.message is not None
    assert letter.message.priority == 2
    assert (await broker.client.xlen(q.stream_at(2)), await broker.client.xlen(q.stream)) == (0, 1)
    assert await broker.owned("default", "c1") == [taken[0].entry_id]


async def test_the_plain_path_reads_as_before(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker on a queue that never used another priority reads it with plain XREADGROUPs
    only: no priority script, and the look for priority streams at most once a second."""
    await runtime.send_many([apps.ping.s("p") for _ in range(300)])
    worker = Worker(runtime, ["default"], concurrency=4, burst=True)
    calls: dict[str, int] = {"read": 0, "read_best": 0, "levels": 0}
    for name in calls:
        method = getattr(worker.broker, name)

        async def counted(*args: Any, __name: str = name, __method: Any = method) -> Any:
            calls[__name] += 1
            return await __method(*args)

        monkeypatch.setattr(worker.broker, name, counted)  # counts the calls; Redis is real
    began = time.monotonic()
    await worker.run()
    seconds = time.monotonic() - began
    assert calls["read"] > 0 and calls["read_best"] == 0
    assert calls["levels"] <= seconds / LEVELS_REFRESH_S + 3  # + the idle checks at the end
