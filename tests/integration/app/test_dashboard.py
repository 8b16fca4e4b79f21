"""GET /dashboard and its assets over HTTP (the browser test drives the page itself)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.app.conftest import AUTH, TOKEN, Client

PACKAGE = Path(__file__).resolve().parents[3] / "waasp"
# The runtime's page and scripts, and the WAASP API's own views beside them.
STATIC = (PACKAGE / "runtime" / "dashboard" / "static", PACKAGE / "api" / "static")


async def test_page_status_follows_the_token(monitor_client: Client) -> None:
    """The page is 401 without a token, 403 with a wrong one, 200 with the header or cookie."""
    assert (await monitor_client.get("/dashboard")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await monitor_client.get("/dashboard", headers=wrong)).status == 403
    by_header = await monitor_client.get("/dashboard/", headers=AUTH)
    assert by_header.status == 200
    assert by_header.content_type == "text/html"
    assert 'id="login-form"' in await by_header.text()
    by_cookie = await monitor_client.get("/dashboard", cookies={"waasp_token": TOKEN})
    assert by_cookie.status == 200
    bad_cookie = await monitor_client.get("/dashboard", cookies={"waasp_token": "nope"})
    assert bad_cookie.status == 403


async def test_page_headers_lock_it_down(monitor_client: Client) -> None:
    """The page runs only its own script, is never framed and is never cached."""
    response = await monitor_client.get("/dashboard", headers=AUTH)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_assets_are_public_and_nothing_else_is_served(monitor_client: Client) -> None:
    """The scripts and style sheet need no token; any other name under /dashboard is a 404."""
    modules = sorted(path.name for folder in STATIC for path in folder.glob("*.js"))
    assert {"app.js", "runtime.js", "contacts.js"} <= set(modules)
    for name in modules:
        script = await monitor_client.get(f"/dashboard/{name}")
        assert script.status == 200 and script.content_type == "text/javascript", name
        assert "innerHTML" not in await script.text(), name  # server text is set as text
    style = await monitor_client.get("/dashboard/app.css")
    assert style.status == 200 and style.content_type == "text/css"
    for name in ("dashboard.html", "pages.html", "..%2F..%2Fsettings.py", "nope.js"):
        assert (await monitor_client.get(f"/dashboard/{name}")).status == 404


async def test_the_cookie_does_not_open_the_api(monitor_client: Client) -> None:
    """API calls take the token from the header only: a cross-site request cannot ride on it."""
    cookies = {"waasp_token": TOKEN}
    assert (await monitor_client.get("/api/v1/queues", cookies=cookies)).status == 401
    replay = await monitor_client.post("/api/v1/dlq/default:1-0/replay", cookies=cookies)
    assert replay.status == 401
