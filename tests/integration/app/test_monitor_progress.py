"""A running task's progress (``update_state``) through the monitoring API the dashboard reads."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.app.conftest import AUTH, Client
from waasp.api.openapi_monitor import MONITOR_SCHEMAS
from waasp.runtime import Runtime, Task, Worker


async def task_json(client: Client, task_id: str) -> Any:
    """GET the task's record from the monitoring API."""
    response = await client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_task_record_shows_progress(monitor_client: Client, runtime: Runtime) -> None:
    """While a task reports PROGRESS, its record's ``state`` says so and ``progress`` holds
    its meta (what the dashboard's task page shows); once done, ``progress`` is null."""
    reported = asyncio.Event()
    proceed = asyncio.Event()

    @runtime.task(name="tests.monitor.reporting", bind=True)
    async def reporting(self: Task) -> int:
        self.update_state(state="PROGRESS", meta={"done": 3, "total": 10})
        reported.set()
        await proceed.wait()
        return 10

    worker = Worker(runtime, ["default"], 2)
    running = asyncio.create_task(worker.run())
    try:
        res = await reporting.delay()
        await asyncio.wait_for(reported.wait(), 30)
        body = await task_json(monitor_client, res.id)
        for _ in range(300):  # the settler writes the record in its next flush
            if body["state"] == "PROGRESS":
                break
            await asyncio.sleep(0.05)
            body = await task_json(monitor_client, res.id)
        assert body["state"] == "PROGRESS"
        assert body["progress"] == {"done": 3, "total": 10}
        assert body["name"] == "tests.monitor.reporting" and body["started_at"] is not None
        proceed.set()
        assert await res.get(timeout=30) == 10
        body = await task_json(monitor_client, res.id)
        assert (body["state"], body["result"], body["progress"]) == ("SUCCESS", 10, None)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)


def test_schema_admits_custom_states() -> None:
    """The documented task record admits any state string and has the ``progress`` field."""
    task = MONITOR_SCHEMAS["Task"]["properties"]
    assert "enum" not in task["state"] and "progress" in task
