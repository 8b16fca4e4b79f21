"""Guarantees 1, 2, 5, 8 and 10 under fire: workers SIGKILLed, SIGTERMed, poisoned."""

from __future__ import annotations

import orjson
import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    WorkerProcess,
    runs,
    stream_state,
    wait_settled,
    wait_until,
)
from waasp.runtime import FAILURE, STARTED, SUCCESS, Runtime, Task
from waasp.runtime.keys import GROUP


@pytest.mark.slow
async def test_sigkill_mid_run_loses_nothing(runtime: Runtime, workers: WorkerFactory) -> None:
    """300 tasks, a -c 10 worker SIGKILLed a third of the way, a second worker started:
    all succeed, and extra executions are at most what the dead worker held."""
    total = 300
    results = await runtime.send_many([apps.counted.s(i, 0.02) for i in range(total)])
    first = workers.start(concurrency=10)

    async def a_third_done() -> bool:
        return await runs(runtime, "counted") >= total // 3

    await wait_until(a_third_done, timeout=30, interval=0.005)
    first.kill()
    stream = runtime.keys.queue("default").stream
    held_rows = await runtime.broker.client.xpending_range(
        stream, GROUP, "-", "+", 10_000, consumername=first.name
    )
    held = len(held_rows)
    assert held > 0, "the kill should land while the worker holds entries"
    workers.start(concurrency=10)
    for i, result in enumerate(results):
        assert await result.get(timeout=30) == i
    per_task = [await runs(runtime, f"counted:{i}") for i in range(total)]
    assert min(per_task) == 1, "every task ran"
    extra = sum(per_task) - total
    assert extra <= held, f"{extra} extra executions but the dead worker held only {held}"
    await wait_settled(runtime)


@pytest.mark.slow
async def test_long_task_is_not_redelivered(runtime: Runtime, workers: WorkerFactory) -> None:
    """Tasks running three times the visibility timeout, two workers: each runs once."""
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.6"}
    results = [await apps.sleepy.delay(f"long{i}", 1.8) for i in range(4)]
    a = workers.start(concurrency=2, env=env)
    b = workers.start(concurrency=2, env=env)
    for i, result in enumerate(results):
        assert await result.get(timeout=20) == f"long{i}"
        assert await runs(runtime, f"sleepy:long{i}") == 1
    for worker in (a, b):
        assert "leases_lost" not in worker.output()
        assert "entries_reclaimed" not in worker.output()


@pytest.mark.slow
@pytest.mark.parametrize("task", [apps.kill_own_worker, apps.exit_own_worker])
async def test_poison_task_is_dead_lettered_after_max_deliveries(
    runtime: Runtime, workers: WorkerFactory, task: Task
) -> None:
    """A task that kills its worker every time (SIGKILL or os._exit) is dead-lettered after
    ``broker_max_deliveries`` executions, and the surviving worker keeps serving."""
    max_deliveries = 3
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.4", "WAASP_TEST_MAX_DELIVERIES": str(max_deliveries)}
    result = await task.delay("p")
    worker = None
    for _ in range(max_deliveries + 2):
        worker = workers.start(concurrency=2, env=env)

        async def died_or_dead(current: WorkerProcess = worker) -> bool:
            return not current.alive() or await result.state() == FAILURE

        await wait_until(died_or_dead, timeout=20)
        if await result.state() == FAILURE:
            break
    assert worker is not None and worker.alive(), "the last worker survived the poison"
    assert await runs(runtime, "poison:p") == max_deliveries
    meta = await result.meta()
    assert meta.state == FAILURE
    assert meta.error is not None and meta.error.type == "MaxDeliveriesExceeded"
    letters = await runtime.dlq.list()
    assert [x.reason for x in letters] == ["max_deliveries"]
    assert letters[0].message is not None and letters[0].message.id == result.id
    # The dead letter reclaim.lua wrote and the worker's FAILURE record say the same.
    assert letters[0].error == meta.error
    assert letters[0].deliveries == max_deliveries + 1
    assert await stream_state(runtime) == (0, 0)
    assert await (await apps.add.delay(1, 2)).get(timeout=15) == 3


async def test_garbage_entries_are_dead_lettered(runtime: Runtime, workers: WorkerFactory) -> None:
    """Undecodable or ill-typed entries XADDed by hand are dead-lettered; the worker serves on."""
    worker = workers.start()
    assert await (await apps.add.delay(0, 0)).get(timeout=15) == 0
    stream = runtime.keys.queue("default").stream
    good_fields = {
        "id": "g1",
        "task": apps.add.name,
        "args": [1, 2],
        "kwargs": {},
        "queue": "default",
        "retries": 0,
        "enqueued_at": 1.0,
    }
    garbage: list[dict[bytes | str, bytes | str]] = [
        {"message": b"\xff\xfenot json"},
        {"message": b"[1, 2, 3]"},
        {"message": b"{}"},
        {"unexpected": b"field"},
        {"message": orjson.dumps({**good_fields, "id": "g2", "enqueued_at": "soon"})},
        {"message": orjson.dumps({**good_fields, "id": "g3", "retries": -1})},
        {"message": orjson.dumps({**good_fields, "id": "g4", "args": {"a": 1}})},
        {"message": orjson.dumps({**good_fields, "id": "g5", "task": "no.such.task"})},
    ]
    for fields in garbage:
        await runtime.broker.client.xadd(stream, fields)
    follow_up = await apps.add.delay(20, 22)
    assert await follow_up.get(timeout=15) == 42
    assert worker.alive(), worker.output()

    async def all_dead() -> bool:
        return sum((await runtime.dlq.count()).values()) == len(garbage)

    await wait_until(all_dead, timeout=10)
    reasons = sorted(x.reason for x in await runtime.dlq.list())
    assert reasons == ["undecodable"] * (len(garbage) - 1) + ["unknown_task"]
    await wait_settled(runtime)
    unknown = runtime.AsyncResult("g5")
    assert await unknown.state() == FAILURE


@pytest.mark.slow
async def test_sigterm_lets_the_running_task_finish(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """SIGTERM while a task runs: it completes, the worker exits 0 promptly, nothing unacked."""
    worker = workers.start(concurrency=2)
    result = await apps.sleepy.delay("term", 1.0)

    async def started() -> bool:
        return await result.state() == STARTED

    await wait_until(started, timeout=15, interval=0.01)
    worker.signal(15)
    code = await worker.exited(timeout=6)
    assert code == 0, worker.output()
    assert await result.state() == SUCCESS
    assert await runs(runtime, "sleepy-done:term") == 1
    assert await stream_state(runtime) == (0, 0)


@pytest.mark.slow
async def test_sigterm_hands_back_what_it_will_not_finish(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """SIGTERM: prefetched tasks and a task overrunning the shutdown timeout are handed back
    unacknowledged, and another worker runs them."""
    first = workers.start(concurrency=1, env={"WAASP_TEST_SHUTDOWN_TIMEOUT": "0.5"})
    results = [await apps.sleepy.delay(f"h{i}", 3.0 if i == 0 else 0.1) for i in range(4)]

    async def first_started() -> bool:
        return await runs(runtime, "sleepy:h0") == 1

    await wait_until(first_started, timeout=15)
    first.signal(15)
    assert await first.exited(timeout=8) == 0, first.output()
    length, pending = await stream_state(runtime)
    assert (length, pending) == (4, 0), "all four handed back, none acked"
    workers.start(concurrency=4)
    for i, result in enumerate(results):
        assert await result.get(timeout=15) == f"h{i}"
    assert await runs(runtime, "sleepy-done:h0") == 1
    await wait_settled(runtime)


@pytest.mark.slow
async def test_drained_stream_keeps_no_processed_entries(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """After 10,000 tasks are drained the stream is empty: XLEN 0 and nothing pending."""
    total = 10_000
    results = await runtime.send_many([apps.noop.s(i) for i in range(total)])
    assert (await stream_state(runtime))[0] == total
    worker = workers.start(concurrency=50, burst=True)
    assert await worker.exited(timeout=60) == 0, worker.output()
    assert await stream_state(runtime) == (0, 0)
    for result in results[:: total // 20]:
        assert await result.state() == SUCCESS
        assert await runtime.results.client.pttl(runtime.keys.result(result.id)) > 0
