"""POST /api/v1/queues/{name}/pause and /resume: the token, the effect, the answers."""

from __future__ import annotations

import pytest

from tests.integration.app.conftest import AUTH, Client
from waasp.runtime import Runtime

PATHS = ["/api/v1/queues/default/pause", "/api/v1/queues/default/resume"]


@pytest.mark.parametrize("path", PATHS)
async def test_pause_routes_need_the_token(monitor_client: Client, path: str) -> None:
    """Without a token 401, with a wrong one 403; nothing is paused."""
    assert (await monitor_client.post(path)).status == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await monitor_client.post(path, headers=wrong)).status == 403


async def test_pause_and_resume_a_queue(monitor_client: Client, runtime: Runtime) -> None:
    """Pause sets the paused flag the queue table shows; resume clears it; each says whether
    it changed anything."""
    await runtime.broker.register_queues(["default"])
    response = await monitor_client.post(PATHS[0], headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"queue": "default", "paused": True, "changed": True}
    assert await runtime.control.paused() == ["default"]
    again = await (await monitor_client.post(PATHS[0], headers=AUTH)).json()
    assert again["changed"] is False
    queues = await (await monitor_client.get("/api/v1/queues", headers=AUTH)).json()
    assert [q["paused"] for q in queues["queues"] if q["name"] == "default"] == [True]
    metrics = await (await monitor_client.get("/metrics", headers=AUTH)).text()
    assert 'waasp_queue_paused{queue="default"} 1.0' in metrics
    resumed = await (await monitor_client.post(PATHS[1], headers=AUTH)).json()
    assert resumed == {"queue": "default", "paused": False, "changed": True}
    assert await runtime.control.paused() == []


async def test_bad_queue_names_and_query_parameters_are_400(monitor_client: Client) -> None:
    """An invalid queue name is a 400 naming the field; so is any query parameter."""
    bad = await monitor_client.post("/api/v1/queues/no%20spaces/pause", headers=AUTH)
    assert bad.status == 400
    assert (await bad.json())["details"]["field"] == "name"
    extra = await monitor_client.post(f"{PATHS[0]}?force=1", headers=AUTH)
    assert extra.status == 400
