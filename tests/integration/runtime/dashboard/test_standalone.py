"""``python -m waasp.runtime dashboard`` against an app that is not WAASP: the token it
prints, 401 without it, the monitoring API and /metrics over the app's own queues."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.runtime.dashboard.conftest import DashboardFactory
from tests.integration.runtime.dashboard.shop import refund, ship_order
from waasp.runtime import Runtime

pytestmark = pytest.mark.slow  # each test starts a server process


async def fetch(
    url: str, token: str | None = None, *, method: str = "GET"
) -> tuple[int, str, dict[str, str]]:
    """(status, body, headers) of one request, with the bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers) as response:
            return response.status, await response.text(), dict(response.headers)


async def get_json(url: str, token: str) -> Any:
    """The JSON answer of a GET that must succeed."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def test_prints_a_token_and_refuses_requests_without_it(
    start_dashboard: DashboardFactory,
) -> None:
    """With WAASP_DASHBOARD_TOKEN unset a token is made up and printed; the API, the page and
    /metrics are 401 without it and 403 with a wrong one; /healthz and the scripts are open."""
    dashboard = await start_dashboard()
    assert dashboard.token is not None and len(dashboard.token) >= 32
    base = dashboard.base
    for path in ("/api/v1/queues", "/dashboard", "/metrics", "/api/v1/workers"):
        status, _, headers = await fetch(base + path)
        assert status == 401, path
        if path != "/dashboard":  # the page answers with its login form instead
            assert headers["WWW-Authenticate"].startswith("Bearer"), path
        assert (await fetch(base + path, "wrong-token"))[0] == 403, path
    assert (await fetch(base + "/healthz"))[0] == 200
    status, script, _ = await fetch(base + "/dashboard/app.js")
    assert status == 200 and "loadPages" in script


async def test_the_page_is_the_runtimes_alone(start_dashboard: DashboardFactory) -> None:
    """The page has the runtime's views and none of WAASP's (no contacts, no audit log), and
    their scripts are not served."""
    dashboard = await start_dashboard()
    status, page, headers = await fetch(dashboard.base + "/dashboard", dashboard.token)
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    assert 'id="view-runtime"' in page and 'id="view-task"' in page
    assert 'data-pages=""' in page and "<h1>waasp.runtime</h1>" in page
    assert "view-contacts" not in page and "WAASP_API_TOKEN" not in page and "$" not in page
    for name in ("contacts.js", "audit.js", "decisions.js", "pages.html"):
        assert (await fetch(f"{dashboard.base}/dashboard/{name}"))[0] == 404, name


async def test_monitoring_api_and_metrics_show_the_apps_queues(
    start_dashboard: DashboardFactory, shop_runtime: Runtime
) -> None:
    """Tasks sent by the app show in /api/v1/queues, a queue's contents, a task's record, the
    schedule and /metrics; a dead letter shows in /api/v1/dlq; unknown parameters are a 400."""
    dashboard = await start_dashboard()
    base, token = dashboard.base, dashboard.token
    assert token is not None
    sent = [await ship_order.delay(i) for i in range(2)]
    await refund.delay(7)
    await shop_runtime.dlq.send(refund.name, (8,), reason="manual", error="provider down")

    [orders] = (await get_json(f"{base}/api/v1/queues", token))["queues"]
    assert orders["name"] == "orders" and orders["waiting"] == 3 and orders["dead"] == 1
    contents = await get_json(f"{base}/api/v1/queues/orders/tasks?limit=10", token)
    names = [task["task"] for task in contents["waiting"]["tasks"]]
    assert names == [ship_order.name, ship_order.name, refund.name]
    task = await get_json(f"{base}/api/v1/tasks/{sent[0].id}", token)
    assert task["state"] == "PENDING" and task["message"]["task"] == ship_order.name
    [entry] = (await get_json(f"{base}/api/v1/schedule", token))["schedule"]
    assert entry["name"] == "nightly-report"
    dead = await get_json(f"{base}/api/v1/dlq", token)
    assert dead["total"] == 1 and dead["dead_letters"][0]["task"] == refund.name

    status, body, _ = await fetch(f"{base}/api/v1/queues?limt=5", token)
    assert status == 400 and "limt" in body
    status, body, _ = await fetch(f"{base}/api/v1/events?limit=1&limit=2", token)
    assert status == 400 and "at most once" in body
    status, body, _ = await fetch(f"{base}/api/v1/queues/orders/tasks?limit=0", token)
    assert status == 400 and "limit" in body

    status, text, headers = await fetch(f"{base}/metrics", token)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "waasp_redis_up 1.0" in text
    assert 'waasp_queue_waiting{queue="orders"} 3.0' in text
    assert 'waasp_queue_dead{queue="orders"} 1.0' in text
    assert "waasp_http_requests" not in text  # the WAASP API's own figures are not here


async def test_token_from_the_environment_is_not_printed(
    start_dashboard: DashboardFactory,
) -> None:
    """WAASP_DASHBOARD_TOKEN is the token, and never printed; --metrics-public opens
    /metrics alone."""
    secret = "a-token-chosen-by-the-operator"
    dashboard = await start_dashboard("--metrics-public", env={"WAASP_DASHBOARD_TOKEN": secret})
    assert dashboard.token is None and secret not in "\n".join(dashboard.printed)
    assert (await fetch(dashboard.base + "/api/v1/queues", secret))[0] == 200
    assert (await fetch(dashboard.base + "/api/v1/queues"))[0] == 401
    assert (await fetch(dashboard.base + "/metrics"))[0] == 200
