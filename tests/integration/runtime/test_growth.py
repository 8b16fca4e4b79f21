"""Nothing the runtime keeps in Redis grows without bound: consumers of workers that left,
event counters fed by junk messages, dead-letter streams under a flood."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
from structlog.testing import capture_logs

from tests.integration.runtime.conftest import wait_until
from waasp.runtime import Runtime, Worker, monitor
from waasp.runtime.broker import EventBatch
from waasp.runtime.keys import GROUP
from waasp.runtime.message import TaskMessage, encode_message


async def consumer_names(runtime: Runtime, queue: str = "default") -> set[str]:
    """The consumers of a queue's group."""
    found = await runtime.broker.client.xinfo_consumers(runtime.keys.queue(queue).stream, GROUP)
    return {str(c["name"], "utf-8") if isinstance(c["name"], bytes) else c["name"] for c in found}


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run an in-process worker for the block, then stop it and wait for its exit."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


# -- consumers --------------------------------------------------------------------------


async def test_clean_exits_leave_no_consumers(runtime: Runtime) -> None:
    """Ten workers that each run a task and exit cleanly leave no consumer in the group."""
    for i in range(10):
        result = await runtime.send_task("tests.integration.runtime.apps.noop", (i,))
        await Worker(runtime, ["default"], 2, burst=True).run()
        assert await result.get(timeout=10) == i
    assert await consumer_names(runtime) == set()


async def test_reaper_deletes_dead_consumers_with_nothing_pending(runtime: Runtime) -> None:
    """A live worker deletes dead workers' consumers idle past the visibility timeout once
    they hold nothing: the idle ones at once, one holding an entry after that entry was
    reclaimed; an idle consumer whose worker still beats is kept."""
    runtime.conf.update(broker_visibility_timeout=0.5)
    await runtime.broker.ensure_group("default")
    stream = runtime.keys.queue("default").stream
    client = runtime.broker.client
    for ghost in ("ghost-a", "ghost-b", "idle-but-alive"):
        await client.xgroup_createconsumer(stream, GROUP, ghost)
    await runtime.broker.workers.beat("idle-but-alive", 60_000, {"queues": ["default"]})
    held = await runtime.send_task("tests.integration.runtime.apps.noop", (7,))
    await client.xreadgroup(GROUP, "ghost-c", {stream: ">"}, count=1)  # dies holding it
    await asyncio.sleep(0.6)
    with capture_logs() as logs:
        async with running(Worker(runtime, ["default"], 2)) as worker:
            assert await held.get(timeout=15) == 7
            expected = {worker.name, "idle-but-alive"}
            await wait_until(lambda: _names_are(runtime, expected), timeout=15)
    reaped = {n for e in logs if e["event"] == "consumers_reaped" for n in e["consumers"]}
    assert reaped == {"ghost-a", "ghost-b", "ghost-c"}


async def _names_are(runtime: Runtime, names: set[str]) -> bool:
    return await consumer_names(runtime) == names


async def test_a_consumer_holding_entries_is_never_reaped(runtime: Runtime) -> None:
    """The reaper skips a consumer with pending entries, however long it was idle."""
    await runtime.broker.ensure_group("default")
    stream = runtime.keys.queue("default").stream
    client = runtime.broker.client
    await runtime.send_task("tests.integration.runtime.apps.noop", (1,))
    await client.xreadgroup(GROUP, "holder", {stream: ">"}, count=1)
    await client.xgroup_createconsumer(stream, GROUP, "empty")
    await asyncio.sleep(0.05)
    assert await runtime.broker.workers.reap_consumers("default", ["me"], 0) == ["empty"]
    assert await consumer_names(runtime) == {"holder"}
    pending = await client.xpending(stream, GROUP)
    assert pending["pending"] == 1


# -- event counters ---------------------------------------------------------------------


async def test_junk_task_names_are_counted_under_one_name(runtime: Runtime) -> None:
    """Messages naming 20 unregistered tasks, and undecodable ones, add one counter name."""
    stream = runtime.keys.queue("default").stream
    for i in range(20):
        junk = TaskMessage(id=f"junk-{i}", task=f"junk.task_{i}", queue="default")
        await runtime.broker.client.xadd(stream, {"message": encode_message(junk)})
    await runtime.broker.client.xadd(stream, {"message": b"\xff not json"})
    ok = await runtime.send_task("tests.integration.runtime.apps.noop", (1,))
    await runtime.broker.register_queues(["default"])
    await Worker(runtime, ["default"], 2, burst=True).run()
    assert await ok.get(timeout=10) == 1
    counts = (await runtime.broker.events.counters()).counts
    assert counts == {
        "tests.integration.runtime.apps.noop": {"started": 1, "succeeded": 1},
        "<unknown>": {"dead_lettered": 21},
    }
    failures = await runtime.broker.events.failures(30)  # the failures still name the junk
    assert {f["task"] for f in failures} >= {f"junk.task_{i}" for i in range(20)}


async def test_counters_of_a_name_expire_after_its_last_event(runtime: Runtime) -> None:
    """A task name not seen for events_counters_ttl loses its counters, even while other
    names keep the counters hash alive."""
    runtime.conf.update(events_counters_ttl=1.0)
    events = runtime.broker.events
    await events.record(EventBatch(started=["app.old"]), runtime.conf, "w1")
    for _ in range(6):  # a write every 0.25 s keeps the hash itself from expiring
        await asyncio.sleep(0.25)
        await events.record(EventBatch(started=["app.new"]), runtime.conf, "w1")
    counts = (await events.counters()).counts
    assert set(counts) == {"app.new"}


# -- dead letters -----------------------------------------------------------------------


async def test_dead_letter_streams_are_capped_and_say_so(runtime: Runtime) -> None:
    """With dlq_max_len 5, a worker trims a queue's dead letters to the newest 5, logs it and
    counts what it trimmed where monitoring sees it."""
    runtime.conf.update(dlq_max_len=5, broker_visibility_timeout=0.4)
    ids = [(await runtime.send_task(f"tests.growth.unregistered_{i}")).id for i in range(12)]
    with capture_logs() as logs:
        async with running(Worker(runtime, ["default"], 2)):

            async def trimmed() -> bool:
                [stats] = await monitor.queue_stats(runtime, ["default"])
                return (stats.dead, stats.dead_trimmed) == (5, 7)

            await wait_until(trimmed, timeout=20)
    kept = [letter.message.id for letter in await runtime.dlq.list() if letter.message]
    assert sorted(kept) == sorted(ids[-5:])
    lines = [e for e in logs if e["event"] == "dead_letters_trimmed"]
    assert lines and sum(e["count"] for e in lines) == 7
    assert {e["queue"] for e in lines} == {"default"}


async def test_dead_letters_sent_by_hand_are_capped(runtime: Runtime) -> None:
    """runtime.dlq.send trims the queue's dead letters to dlq_max_len as well."""
    runtime.conf.update(dlq_max_len=3)
    for i in range(5):
        await runtime.dlq.send("tests.growth.manual", (i,), reason="manual")
    letters = await runtime.dlq.list()
    assert sorted(letter.message.args[0] for letter in letters if letter.message) == [2, 3, 4]
    [stats] = await monitor.queue_stats(runtime, ["default"])
    assert stats.dead_trimmed == 2
    assert orjson.dumps(stats.as_dict())  # JSON-ready, as the API and inspect show it
