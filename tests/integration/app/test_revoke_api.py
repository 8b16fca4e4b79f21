"""POST /api/v1/tasks/{id}/revoke: the token, the terminate flag (query or body), bad input,
and the task's end. (401/403 without or with a wrong token, and the 503s, are
test_monitor_api.py's, for every monitoring route.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.app.conftest import AUTH, Client
from waasp.runtime import REVOKED, Runtime, TaskRevoked, Worker


async def revoke(client: Client, task_id: str, status: int = 200, **options: Any) -> Any:
    """POST the revoke with the token; check the status; return the JSON body."""
    response = await client.post(f"/api/v1/tasks/{task_id}/revoke", headers=AUTH, **options)
    assert response.status == status, await response.text()
    return await response.json()


async def test_revoke_a_queued_task_over_http(monitor_client: Client, runtime: Runtime) -> None:
    """A queued task revoked over HTTP never runs and ends REVOKED; without the token the
    route is a 401 and nothing is revoked."""
    ran: list[int] = []

    @runtime.task(name="tests.revoke.job")
    async def job() -> None:
        ran.append(1)

    result = await job.delay()
    response = await monitor_client.post(f"/api/v1/tasks/{result.id}/revoke")
    assert response.status == 401
    body = await revoke(monitor_client, result.id)
    assert body == {
        "id": result.id,
        "revoked": True,
        "terminate": False,
        "known": False,
        "previous_state": None,
        "note": body["note"],
    }
    assert "no record" in body["note"]
    await Worker(runtime, ["default"], 1, burst=True).run()
    assert ran == []
    assert await result.state() == REVOKED
    with pytest.raises(TaskRevoked):
        await result.get(timeout=5)


async def test_terminate_comes_from_the_query_or_the_body(monitor_client: Client) -> None:
    """``?terminate=true`` and ``{"terminate": true}`` both set it; a trailing slash is the
    same route."""
    assert (await revoke(monitor_client, "a", params={"terminate": "true"}))["terminate"]
    assert not (await revoke(monitor_client, "b", params={"terminate": "0"}))["terminate"]
    assert (await revoke(monitor_client, "c", json={"terminate": True}))["terminate"]
    slash = await monitor_client.post("/api/v1/tasks/d/revoke/", headers=AUTH, json={})
    assert slash.status == 200 and not (await slash.json())["terminate"]


@pytest.mark.parametrize(
    ("path", "options", "field"),
    [
        ("x" * 300, {}, "task_id"),
        ("a%09b", {}, "task_id"),
        ("a", {"params": {"terminate": "maybe"}}, "terminate"),
        ("a", {"json": {"terminate": "yes"}}, "terminate"),
        ("a", {"json": {"terminate": True}, "params": {"terminate": "true"}}, "terminate"),
        ("a", {"json": {"force": True}}, "force"),
        ("a", {"json": [True]}, "body"),
        ("a", {"params": {"now": "1"}}, None),
    ],
)
async def test_bad_revoke_requests_are_400s(
    monitor_client: Client, path: str, options: dict[str, Any], field: str | None
) -> None:
    """A bad id, a terminate that is not a boolean (or given twice), an unknown body field or
    query parameter: a 400 that names the field."""
    body = await revoke(monitor_client, path, status=400, **options)
    if field is not None:
        assert body["details"]["field"] == field, body
    else:
        assert "unknown query parameter" in body["error"], body
