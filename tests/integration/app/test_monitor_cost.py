"""The dashboard's data calls cost O(queues + workers), never O(tasks): the number of Redis
commands each one sends stays the same when the system holds 20 times more tasks.

Timings live in ``python -m benchmarks.monitor`` (100,000 tasks), not in tests.
"""

from __future__ import annotations

from benchmarks.monitor import PATHS, CommandCounter, heartbeats, populate
from tests.integration.app.conftest import AUTH, Client
from waasp.runtime import Runtime


async def commands_per_call(client: Client, task_id: str) -> dict[str, tuple[int, int]]:
    """(commands, round trips) each monitoring call sends to Redis."""
    counts: dict[str, tuple[int, int]] = {}
    for path in PATHS:
        counter = CommandCounter()
        with counter.installed():
            response = await client.get(path.format(task_id=task_id), headers=AUTH)
            assert response.status == 200, (path, await response.text())
        counts[path] = (counter.commands, counter.round_trips)
    return counts


async def test_redis_commands_do_not_grow_with_tasks(
    monitor_client: Client, runtime: Runtime
) -> None:
    """Each call sends as many commands with 2,100 tasks in the system as with 100."""
    await heartbeats(runtime)
    task_id = await populate(runtime, 100)
    few = await commands_per_call(monitor_client, task_id)
    await populate(runtime, 2000, start=100)
    many = await commands_per_call(monitor_client, task_id)
    assert many == few
    queues = (await (await monitor_client.get("/api/v1/queues", headers=AUTH)).json())["queues"]
    held = sum(q["waiting"] + q["in_flight"] + q["delayed"] + q["dead"] for q in queues)
    assert held == 2100 * 9 // 10  # the tenth that finished left the queues
