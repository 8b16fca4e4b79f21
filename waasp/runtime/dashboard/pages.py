"""The dashboard page and its static files (the page is built once: see compose.py)."""

from __future__ import annotations

from aiohttp import web

from waasp.runtime.dashboard.auth import check_token
from waasp.runtime.dashboard.errors import HttpError
from waasp.runtime.dashboard.keys import PAGE

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


async def dashboard(request: web.Request) -> web.Response:
    """GET /dashboard: the page, 200 with the token (header or cookie); without it the same
    page answers 401 (403 with a wrong token) and shows its login form."""
    status = 200
    try:
        check_token(request, allow_cookie=True)
    except HttpError as exc:
        status = exc.status
    return web.Response(
        body=request.app[PAGE].html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=_PAGE_HEADERS,
    )


async def asset(request: web.Request) -> web.Response:
    """GET /dashboard/{name}: the page's scripts and style sheet (public: they hold no data)."""
    found = request.app[PAGE].assets.get(request.match_info["name"])
    if found is None:
        raise HttpError(404, "not found")
    item, content_type = found
    return web.Response(
        body=item.read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


async def root(_request: web.Request) -> web.StreamResponse:
    """GET /: the dashboard is the home page."""
    raise web.HTTPFound("/dashboard")
