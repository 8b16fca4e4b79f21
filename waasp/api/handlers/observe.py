"""/metrics (Prometheus text) and the dashboard page with its static files."""

from __future__ import annotations

from importlib import resources
from pathlib import PurePath

from aiohttp import web

from waasp.api.auth import check_token
from waasp.api.errors import HttpError
from waasp.api.keys import METRICS, MONITOR, SETTINGS

STATIC = resources.files("waasp.api").joinpath("static")
_TYPES = {".js": "text/javascript", ".css": "text/css"}
# The page's scripts and style sheet, by name: nothing else under /dashboard/ is served.
_ASSETS = {
    item.name: _TYPES[suffix]
    for item in STATIC.iterdir()
    if (suffix := PurePath(item.name).suffix) in _TYPES
}
# The page runs only its own script and style, talks only to this origin, is never framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: this process's metrics and the runtime's, read from Redis now; the
    token is required unless WAASP_METRICS_PUBLIC is set (queue names, task names and
    traffic figures are an operator's business)."""
    if not request.app[SETTINGS].metrics_public:
        check_token(request)
    monitor = request.app.get(MONITOR)
    snapshot = await monitor.snapshot() if monitor is not None else None
    body, content_type = request.app[METRICS].render(snapshot, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


async def dashboard(request: web.Request) -> web.Response:
    """GET /dashboard: the page, 200 with the token (header or cookie); without it the same
    page answers 401 (403 with a wrong token) and shows its login form."""
    status = 200
    try:
        check_token(request, allow_cookie=True)
    except HttpError as exc:
        status = exc.status
    page = STATIC.joinpath("dashboard.html").read_bytes()
    return web.Response(
        body=page, status=status, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )


async def asset(request: web.Request) -> web.Response:
    """GET /dashboard/{name}: the page's scripts and style sheet (public: they hold no data)."""
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise HttpError(404, "not found")
    return web.Response(
        body=STATIC.joinpath(name).read_bytes(),
        content_type=_ASSETS[name],
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


async def root(_request: web.Request) -> web.StreamResponse:
    """GET /: the dashboard is the home page."""
    raise web.HTTPFound("/dashboard")
