"""Whatever a task raises is the task's failure, never the worker's (issue 13, item 1)."""

from __future__ import annotations

import pytest

from tests.integration.runtime import apps, unruly
from tests.integration.runtime.conftest import WorkerFactory, runs, wait_settled
from waasp.runtime import FAILURE, Runtime, Task, TaskFailed


@pytest.mark.parametrize(
    ("task", "tag", "error_type"),
    [
        (unruly.cancelled_inside, "cancelled", "asyncio.exceptions.CancelledError"),
        (unruly.raises_base_exception, "base", "tests.integration.runtime.unruly.Escape"),
        (unruly.raises_unprintable, "unprintable", "tests.integration.runtime.unruly.Unprintable"),
        (unruly.sync_raises_base_exception, "sync-base", "tests.integration.runtime.unruly.Escape"),
    ],
)
async def test_anything_a_task_raises_fails_the_task_not_the_worker(
    runtime: Runtime, unruly_workers: WorkerFactory, task: Task, tag: str, error_type: str
) -> None:
    """A task raising CancelledError (not the executor's own), a custom BaseException, or an
    exception whose ``__str__`` raises ends FAILURE with a dead letter; the worker's one
    executor goes on serving."""
    worker = unruly_workers.start(concurrency=1)
    result = await task.delay(tag)
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == error_type
    assert failed.value.traceback
    assert await result.state() == FAILURE
    await wait_settled(runtime, dead=1)
    letters = await runtime.dlq.list()
    assert letters[0].message is not None and letters[0].message.id == result.id
    assert letters[0].error is not None and letters[0].error.type == error_type
    for i in range(3):  # the single executor is still there, and still the only one
        assert await (await apps.add.delay(i, 1)).get(timeout=15) == i + 1
    assert worker.alive(), worker.output()


async def test_unprintable_error_is_rendered_defensively(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """An exception whose ``__str__`` raises is stored with a placeholder message."""
    unruly_workers.start(concurrency=1)
    result = await unruly.raises_unprintable.delay("text")
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert "str() failed" in failed.value.message
    assert "raise Unprintable" in (failed.value.traceback or "")


@pytest.mark.parametrize(
    ("task", "args", "counter", "error_type"),
    [
        (unruly.escapes_once, ("r",), "escapes:r", "tests.integration.runtime.unruly.Escape"),
        (
            unruly.overruns_once,
            ("soft", False),
            "overruns-once:soft",
            "waasp.runtime.errors.SoftTimeLimitExceeded",
        ),
        (
            unruly.overruns_once,
            ("hard", True),
            "overruns-once:hard",
            "waasp.runtime.errors.TimeLimitExceeded",
        ),
    ],
)
async def test_autoretry_for_retries_whatever_it_lists(
    runtime: Runtime,
    unruly_workers: WorkerFactory,
    task: Task,
    args: tuple[object, ...],
    counter: str,
    error_type: str,
) -> None:
    """``autoretry_for`` retries what it lists like any error: a custom BaseException, the
    soft time limit, the hard one (its first attempt swallowed the soft one)."""
    worker = unruly_workers.start(concurrency=1)
    result = await task.delay(*args)
    assert await result.get(timeout=15) == 1
    assert await runs(runtime, counter) == 2
    [retried] = [line for line in worker.output().splitlines() if "task_retried" in line]
    assert error_type in retried
    await wait_settled(runtime, dead=0)
