"""Time limits (issue 13, item 6): the soft one raised inside an async task, the hard one
failing it, both retryable; sync tasks marked or abandoned, and a stuck thread replaced."""

from __future__ import annotations

import pytest

from tests.integration.runtime import unruly
from tests.integration.runtime.conftest import WorkerFactory, runs, wait_settled, wait_until
from waasp.runtime import FAILURE, Runtime, TaskFailed


async def test_hard_limit_fails_with_time_limit_exceeded(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """An async task past its ``time_limit`` ends FAILURE with TimeLimitExceeded and a message."""
    unruly_workers.start(concurrency=1)
    result = await unruly.overruns.delay("hard", 10.0)
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == "waasp.runtime.errors.TimeLimitExceeded"
    assert "time limit of 0.3s" in failed.value.message
    assert await result.state() == FAILURE
    await wait_settled(runtime, dead=1)


async def test_soft_limit_is_raised_inside_the_task(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """At its soft limit an async task gets SoftTimeLimitExceeded where it awaits, catches it,
    cleans up (awaiting) and returns normally: a soft limit is not a hard one."""
    unruly_workers.start(concurrency=1)
    result = await unruly.cleans_up.delay("soft")
    assert await result.get(timeout=15) == "cleaned up"
    await wait_settled(runtime, dead=0)


async def test_sync_task_past_its_soft_limit_has_its_result_discarded(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """A sync task cannot be interrupted: it runs on past its soft limit, its result is
    discarded and it fails with SoftTimeLimitExceeded."""
    worker = unruly_workers.start(concurrency=1)
    result = await unruly.sync_soft_overrun.delay("s", 1.0)
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == "waasp.runtime.errors.SoftTimeLimitExceeded"
    assert "discarded" in failed.value.message
    assert await runs(runtime, "sync-soft-done:s") == 1, "the thread ran to its end"
    assert "task_soft_time_limit_exceeded" in worker.output()


@pytest.mark.slow
async def test_stuck_thread_does_not_shrink_the_pool(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """A sync task stuck past its hard limit fails with TimeLimitExceeded and its thread is
    replaced: a -c 1 worker runs the next sync task (under a limit of its own) at once, while
    the stuck thread still sleeps."""
    worker = unruly_workers.start(concurrency=1)
    stuck = await unruly.sync_stuck.delay("t", 20.0)
    with pytest.raises(TaskFailed) as failed:
        await stuck.get(timeout=15)
    assert failed.value.exc_type == "waasp.runtime.errors.TimeLimitExceeded"
    quick = [await unruly.sync_quick.delay(f"q{i}") for i in range(3)]
    for i, result in enumerate(quick):
        assert await result.get(timeout=15) == f"q{i}"
    assert await runs(runtime, "stuck-done:t") == 0, "the stuck thread is still asleep"

    async def logged() -> bool:
        return "task_thread_abandoned" in worker.output()

    await wait_until(logged, timeout=10)
    worker.kill()  # the stuck thread would otherwise sleep on for the rest of its 20 s
