"""Sending, results, states, routing and burst mode, against real worker processes."""

from __future__ import annotations

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import WorkerFactory, runs, stream_state, wait_until
from waasp.runtime import (
    FAILURE,
    PENDING,
    STARTED,
    SUCCESS,
    Runtime,
    TaskFailed,
)


async def test_delay_then_get_returns_the_value(runtime: Runtime, workers: WorkerFactory) -> None:
    """``delay`` then ``get`` returns the task's return value from a worker process."""
    workers.start()
    result = await apps.add.delay(2, 3)
    assert await result.get(timeout=15) == 5
    assert await result.state() == SUCCESS
    meta = await result.meta()
    assert meta.name == "tests.integration.runtime.apps.add"
    assert meta.worker is not None


async def test_unknown_id_is_pending(runtime: Runtime) -> None:
    """A task id nobody sent reads as PENDING."""
    result = runtime.AsyncResult("no-such-task")
    assert await result.state() == PENDING
    assert not await result.ready()


async def test_failure_carries_the_remote_error(runtime: Runtime, workers: WorkerFactory) -> None:
    """A failed task's ``get`` raises TaskFailed with the remote type, message and traceback."""
    workers.start()
    result = await apps.explode.delay("the disk is full")
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == "ValueError"
    assert failed.value.message == "the disk is full"
    assert failed.value.traceback is not None
    assert "raise ValueError(text)" in failed.value.traceback
    assert await result.state() == FAILURE
    assert await runs(runtime, "explode") == 1


async def test_sys_exit_in_a_task_fails_the_task_not_the_worker(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A task calling sys.exit() ends FAILURE and the worker goes on serving."""
    worker = workers.start()
    with pytest.raises(TaskFailed, match=r"sys\.exit\(3\)"):
        await (await apps.quits.delay()).get(timeout=15)
    assert await (await apps.add.delay(1, 2)).get(timeout=15) == 3
    assert worker.alive()


async def test_sync_task_runs_in_the_worker(runtime: Runtime, workers: WorkerFactory) -> None:
    """A plain ``def`` task runs on the worker (in its thread pool) and returns its value."""
    worker = workers.start()
    result = await apps.multiply.delay(6, 7)
    assert await result.get(timeout=15) == {"product": 42, "pid": worker.pid}


async def test_routing_by_glob_keeps_queues_apart(runtime: Runtime, workers: WorkerFactory) -> None:
    """``task_routes`` globs pick the queue; a ``-Q default`` worker never runs a high task."""
    assert runtime.route(apps.urgent_ping.name) == "high"
    assert runtime.route(apps.ping.name) == "default"
    urgent = [await apps.urgent_ping.delay(f"u{i}") for i in range(5)]
    plain = [await apps.ping.delay(f"p{i}") for i in range(5)]
    default_worker = workers.start("default", burst=True)
    assert await default_worker.exited(20) == 0
    for i, result in enumerate(plain):
        assert await result.get(timeout=1) == f"p{i}"
    for i, result in enumerate(urgent):
        assert await result.state() == PENDING
        assert await runs(runtime, f"urgent:u{i}") == 0
    assert (await stream_state(runtime, "high"))[0] == 5
    workers.start("high")
    for i, result in enumerate(urgent):
        assert await result.get(timeout=15) == f"u{i}"


async def test_started_is_observable(runtime: Runtime, workers: WorkerFactory) -> None:
    """With ``task_track_started`` a running task reads STARTED, then SUCCESS."""
    workers.start()
    result = await apps.sleepy.delay("started", 1.0)

    async def started() -> bool:
        return await result.state() == STARTED

    await wait_until(started, timeout=15, interval=0.01)
    meta = await result.meta()
    assert meta.started_at is not None
    assert await result.get(timeout=15) == "started"


async def test_results_expire(runtime: Runtime, workers: WorkerFactory) -> None:
    """Result records carry the ``result_expires`` TTL and vanish after it."""
    workers.start(env={"WAASP_TEST_RESULT_EXPIRES": "1.5"})
    result = await apps.add.delay(1, 1)
    assert await result.get(timeout=15) == 2
    ttl = await runtime.results.client.pttl(runtime.keys.result(result.id))
    assert 0 < ttl <= 1500

    async def gone() -> bool:
        return await result.state() == PENDING

    await wait_until(gone, timeout=5)


async def test_burst_exits_when_queues_are_empty(runtime: Runtime, workers: WorkerFactory) -> None:
    """``worker --burst`` runs what is queued, then exits 0 by itself."""
    results = await runtime.send_many([apps.add.s(i, i) for i in range(50)])
    worker = workers.start(concurrency=8, burst=True)
    assert await worker.exited(20) == 0
    assert [await r.get(timeout=1) for r in results] == [2 * i for i in range(50)]
    assert await stream_state(runtime) == (0, 0)


async def test_burst_exits_on_an_empty_queue(runtime: Runtime, workers: WorkerFactory) -> None:
    """``worker --burst`` on queues that never held anything exits at once."""
    worker = workers.start("default,high", burst=True)
    assert await worker.exited(10) == 0
