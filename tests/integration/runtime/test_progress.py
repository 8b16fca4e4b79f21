"""``self.update_state`` from async and thread tasks, read back through ``info()``."""

from __future__ import annotations

import functools

import pytest

from tests.integration.runtime import flow_app
from tests.integration.runtime.conftest import wait_until
from tests.integration.runtime.flow_fixtures import rt, worker
from waasp.runtime import SUCCESS, Runtime, Task, TaskFailed, Worker
from waasp.runtime.message import ResultRecord, TaskMeta
from waasp.runtime.results import AsyncResult

__all__ = ["rt", "worker"]  # the fixtures, shared

pytestmark = pytest.mark.timeout(120)


async def shows(res: AsyncResult, info: object) -> bool:
    """Whether the task's record says PROGRESS with ``info``."""
    return await res.state() == "PROGRESS" and await res.info() == info


@pytest.mark.parametrize("task", [flow_app.report_async, flow_app.report_sync])
async def test_progress_is_read_through_info(rt: Runtime, worker: Worker, task: Task) -> None:
    """Each ``update_state`` of a running task (async, or ``def`` in a thread) becomes its
    record, PROGRESS with the meta as ``info()``; its result replaces the last one."""
    res = await task.delay(2)
    for done in (1, 2):
        await wait_until(functools.partial(shows, res, {"done": done, "total": 2}), timeout=30)
        meta = await res.meta()
        assert meta.worker == worker.name and meta.started_at is not None
        await rt.broker.client.set(flow_app.key(rt, f"go:{res.id}:{done}"), 1)
    assert await res.get(timeout=30) == "finished"
    assert await res.state() == SUCCESS and await res.info() == "finished"


async def test_update_state_refuses_what_it_cannot_store(rt: Runtime, worker: Worker) -> None:
    """A meta JSON cannot hold raises in the task (TypeError); so does a final state."""
    res = await flow_app.bad_progress.delay()
    assert await res.get(timeout=30) == "EncodeError,ValueError"


async def test_info_of_failures_and_pending(rt: Runtime, worker: Worker) -> None:
    """``info()`` is None for an unknown task, the error (a TaskFailed, not raised) for a
    failure."""
    assert await rt.AsyncResult("nobody").info() is None
    res = await flow_app.explode.delay(1)
    with pytest.raises(TaskFailed):
        await res.get(timeout=30)
    info = await res.info()
    assert isinstance(info, TaskFailed) and info.exc_type == "ValueError"


async def test_a_stale_delivery_cannot_overwrite_progress(rt: Runtime) -> None:
    """A custom-state record keeps the result backend's rule: one from an earlier delivery
    of the task is refused, one from the same or a later delivery is stored; custom states
    decode."""
    newer = TaskMeta(id="t", state="PROGRESS", result={"n": 2}, entry_id="5-0", deliveries=2)
    older = TaskMeta(id="t", state="PROGRESS", result={"n": 1}, entry_id="5-0", deliveries=1)
    assert await rt.results.store_many([ResultRecord(newer)]) == [True]
    assert await rt.results.store_many([ResultRecord(older)]) == [False]
    meta = await rt.results.get_meta("t")
    assert (meta.state, meta.result) == ("PROGRESS", {"n": 2})


async def test_update_state_outside_a_worker_does_nothing() -> None:
    """Called outside a worker (a direct call), ``update_state`` stores nothing and raises
    nothing."""
    flow_app.report_async.update_state(state="PROGRESS", meta={"x": 1})
