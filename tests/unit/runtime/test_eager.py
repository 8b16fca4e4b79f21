"""Eager mode (``task_always_eager``): a send runs the task here, as a worker would, and
returns a ready result; nothing touches Redis (the runtime points at a closed port)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from waasp.runtime import (
    FAILURE,
    SUCCESS,
    AsyncResult,
    EagerResult,
    NotRegistered,
    Reject,
    Runtime,
    SoftTimeLimitExceeded,
    Task,
    TaskFailed,
)
from waasp.runtime.message import EncodeError, RemoteError


class Flaky(Exception):
    """A failure worth retrying."""


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    """A runtime in eager mode whose Redis cannot be reached; checks it never connected."""
    rt = Runtime("eager", broker_url="redis://127.0.0.1:1/0", environ={})
    rt.conf.update(task_always_eager=True, task_default_retry_delay=3600)
    yield rt
    assert rt._broker is None and rt._results is None, "eager mode connected to Redis"


async def test_a_send_runs_the_task_and_returns_a_ready_result(runtime: Runtime) -> None:
    """Async and sync tasks run at once; the handle is ready, SUCCESS, with the value."""

    @runtime.task
    async def add(x: int, y: int) -> int:
        return x + y

    @runtime.task
    def pair(x: int) -> tuple[int, str]:
        return x, threading.current_thread().name

    result = await add.delay(2, 3)
    assert isinstance(result, EagerResult) and isinstance(result, AsyncResult)
    assert await result.ready() and await result.state() == SUCCESS
    assert await result.get() == 5
    value, thread = await (await pair.apply_async((7,))).get()
    assert value == 7 and thread.startswith("waasp-eager"), "a def task runs in a thread"
    by_name = await runtime.send_task(add.name, (1, 1), task_id="chosen-id")
    assert by_name.id == "chosen-id" and await by_name.get() == 2
    many = await runtime.send_many([add.s(i, i) for i in range(3)])
    assert [await r.get() for r in many] == [0, 2, 4]


async def test_the_task_sees_its_request_and_json_arguments(runtime: Runtime) -> None:
    """``self.request`` is set as on a worker, and arguments cross JSON (a tuple is a list)."""

    @runtime.task(bind=True)
    async def describe(self: Task, values: Any, *, flag: bool) -> dict[str, Any]:
        request = self.request
        return {
            "id": request.id,
            "task": request.task,
            "retries": request.retries,
            "hostname": request.hostname,
            "headers": request.headers,
            "values": values,
            "flag": flag,
        }

    result = await describe.apply_async(((1, 2),), {"flag": True}, headers={"tenant": "a"})
    seen = await result.get()
    assert seen == {
        "id": result.id,
        "task": describe.name,
        "retries": 0,
        "hostname": "eager",
        "headers": {"tenant": "a"},
        "values": [1, 2],
        "flag": True,
    }
    assert describe.request.id is None, "the request is reset after the run"


async def test_self_retry_runs_again_at_once_then_succeeds(runtime: Runtime) -> None:
    """``raise self.retry()`` reruns the task without sleeping its countdown (an hour here)."""
    attempts: list[int] = []

    @runtime.task(bind=True, max_retries=5)
    async def flaky(self: Task, fail_times: int) -> str:
        attempts.append(self.request.retries)
        if self.request.retries < fail_times:
            raise self.retry(exc=Flaky("not yet"), countdown=3600)
        return "done"

    result = await flaky.delay(3)
    assert await result.get() == "done"
    assert attempts == [0, 1, 2, 3]
    assert (await result.meta()).retries == 3


async def test_autoretry_with_backoff_then_success(runtime: Runtime) -> None:
    """``autoretry_for`` with exponential backoff retries a sync task until it succeeds."""
    attempts: list[int] = []

    @runtime.task(bind=True, autoretry_for=(Flaky,), retry_backoff=True, max_retries=4)
    def sometimes(self: Task) -> int:
        attempts.append(self.request.retries)
        if len(attempts) < 3:
            raise Flaky("try again")
        return len(attempts)

    assert await (await sometimes.delay()).get() == 3
    assert attempts == [0, 1, 2]


async def test_exhausted_retries_raise_the_remote_error(runtime: Runtime) -> None:
    """Past ``max_retries`` the result is FAILURE; ``get()`` raises TaskFailed naming the
    task's error, like a worker's result; ``propagate=False`` returns it instead."""
    attempts: list[int] = []

    @runtime.task(autoretry_for=(Flaky,), max_retries=2)
    async def doomed() -> None:
        attempts.append(1)
        raise Flaky("still broken")

    result = await doomed.delay()
    assert await result.state() == FAILURE and await result.ready()
    assert len(attempts) == 3
    with pytest.raises(TaskFailed) as failed:
        await result.get()
    assert failed.value.exc_type == f"{__name__}.Flaky"
    assert failed.value.message == "still broken"
    assert failed.value.traceback is not None and "still broken" in failed.value.traceback
    error = await result.get(propagate=False)
    assert isinstance(error, RemoteError) and error.type == f"{__name__}.Flaky"
    assert (await result.meta()).retries == 2


async def test_eager_propagates_raises_from_the_send(runtime: Runtime) -> None:
    """With ``task_eager_propagates`` the send itself raises the task's failure."""
    runtime.conf.update(task_eager_propagates=True)

    @runtime.task
    def broken() -> None:
        raise ValueError("bad input")

    with pytest.raises(TaskFailed, match="ValueError: bad input"):
        await broken.delay()


async def test_time_limits_apply(runtime: Runtime) -> None:
    """A hard limit stops an async task (TimeLimitExceeded); a soft one is raised inside it;
    a sync task past its hard limit is abandoned in its thread."""

    @runtime.task(time_limit=0.2)
    async def hangs() -> None:
        await asyncio.Event().wait()

    @runtime.task(soft_time_limit=0.2, time_limit=30)
    async def cleans_up() -> str:
        try:
            await asyncio.Event().wait()
        except SoftTimeLimitExceeded:
            return "cleaned up"
        return "unreachable"

    release = threading.Event()

    @runtime.task(time_limit=0.2)
    def blocks() -> None:
        release.wait(60)

    with pytest.raises(TaskFailed) as hard:
        await (await hangs.delay()).get()
    assert hard.value.exc_type == "waasp.runtime.errors.TimeLimitExceeded"
    assert await (await cleans_up.delay()).get() == "cleaned up"
    try:
        with pytest.raises(TaskFailed) as thread_hard:
            await (await blocks.delay()).get()
        assert thread_hard.value.exc_type == "waasp.runtime.errors.TimeLimitExceeded"
    finally:
        release.set()


async def test_failures_a_worker_would_dead_letter(runtime: Runtime) -> None:
    """A rejected task is FAILURE; arguments JSON cannot hold fail the send, as sending
    would; an unknown task name raises NotRegistered at once."""

    @runtime.task
    async def refuses() -> None:
        raise Reject("not for us")

    @runtime.task
    async def echo(value: Any) -> Any:
        return value

    with pytest.raises(TaskFailed, match="not for us"):
        await (await refuses.delay()).get()
    with pytest.raises(EncodeError):
        await echo.delay(object())
    with pytest.raises(NotRegistered):
        await runtime.send_task("no.such.task")


async def test_results_nest_and_outlive_ignore_result(runtime: Runtime) -> None:
    """A task sending another runs it inline; an ``ignore_result`` task's value is still on
    its eager handle; ``forget`` empties the handle."""

    @runtime.task(ignore_result=True)
    async def inner(x: int) -> int:
        return x * 10

    @runtime.task
    async def outer(x: int) -> int:
        return int(await (await inner.delay(x)).get()) + 1

    result = await outer.delay(4)
    assert await result.get() == 41
    assert await (await inner.delay(2)).get() == 20
    await result.forget()
    assert not await result.ready()
