"""With ``task_track_started``, a STARTED record waits briefly for the next flush: a task that
ends first has only its final record written; one still running has its STARTED record
written all the same."""

from __future__ import annotations

import asyncio

import pytest

import waasp.runtime.worker.settler
from tests.integration.runtime.conftest import wait_until
from waasp.runtime import Runtime
from waasp.runtime.broker import RawDelivery
from waasp.runtime.message import RemoteError, ResultRecord, TaskMessage, TaskMeta, encode_message
from waasp.runtime.states import FAILURE, STARTED, TaskState
from waasp.runtime.worker.outcomes import dead_outcome
from waasp.runtime.worker.settler import Settler


def _delivery(task_id: str) -> tuple[TaskMessage, RawDelivery]:
    message = TaskMessage(id=task_id, task="tests.started")
    return message, RawDelivery("default", "1-0", encode_message(message))


async def test_a_task_that_ends_before_the_flush_has_only_its_final_record_written(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STARTED, then round trips to Redis (the settler's turn to flush, were it eager), then
    the end: one write, of the final record."""
    monkeypatch.setattr(waasp.runtime.worker.settler, "STARTED_DELAY", 3600.0)
    await runtime.broker.ensure_group("default")
    results = runtime.results
    written: list[TaskState | str] = []
    store_many = results.store_many

    async def recorded(records: list[ResultRecord]) -> list[bool]:
        written.extend(r.meta.state for r in records)
        return await store_many(records)

    monkeypatch.setattr(results, "store_many", recorded)
    settler = Settler(runtime.broker, results, "c-started", on_settled=lambda _: None)
    running = asyncio.create_task(settler.run())
    message, delivery = _delivery("t-started-1")
    settler.started(TaskMeta(id=message.id, state=STARTED, name=message.task))
    for _ in range(5):
        await runtime.broker.client.ping()
    error = RemoteError("Boom", "ended")
    settler.finish(delivery, dead_outcome(delivery, "test", error, "c-started", message))
    await settler.close()
    await asyncio.wait_for(running, 30)
    assert written == [FAILURE]
    assert (await results.get_meta(message.id)).state == FAILURE


async def test_a_running_task_has_its_started_record_written_without_other_flushes(
    runtime: Runtime,
) -> None:
    """Nothing else to flush: the STARTED record is still written, soon."""
    results = runtime.results
    settler = Settler(runtime.broker, results, "c-started", on_settled=lambda _: None)
    running = asyncio.create_task(settler.run())
    try:
        settler.started(TaskMeta(id="t-started-2", state=STARTED, name="tests.started"))

        async def visible() -> bool:
            return (await results.get_meta("t-started-2")).state == STARTED

        await wait_until(visible, timeout=20)
    finally:
        await settler.close()
        await asyncio.wait_for(running, 30)
