"""Bearer-token authentication of the dashboard and its API: constant-time, no localhost
bypass."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from waasp.runtime.dashboard.errors import HttpError
from waasp.runtime.dashboard.keys import TOKEN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="waasp"'}
# The dashboard page also takes the token from this cookie (set by its login form).
TOKEN_COOKIE = "waasp_token"


def unauthenticated() -> HttpError:
    """The 401 that asks for a bearer token."""
    return HttpError(
        401, "authentication required: send Authorization: Bearer <token>", headers=_CHALLENGE
    )


def presented_token(request: web.Request) -> bytes | None:
    """The bearer token of the Authorization header (None: no bearer token at all)."""
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    # Bytes, so non-ASCII input is compared (and refused) in constant time too.
    return given.encode("utf-8", "surrogateescape")


def check_token(request: web.Request, *, allow_cookie: bool = False) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one.

    ``allow_cookie`` also accepts the token from the ``waasp_token`` cookie, for pages a
    browser navigates to; API calls (and anything that changes state) take the header only,
    so a cross-site request cannot ride on the cookie.
    """
    presented = presented_token(request)
    if not request.headers.get("Authorization") and allow_cookie:
        cookie = request.cookies.get(TOKEN_COOKIE, "").strip()
        presented = cookie.encode("utf-8", "surrogateescape") if cookie else None
    if presented is None:
        raise unauthenticated()
    if not hmac.compare_digest(presented, request.app[TOKEN]):
        raise HttpError(403, "invalid API token")


def require_token(handler: Handler) -> Handler:
    """Wrap a handler so it runs only for a request bearing the token."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_token(request)
        return await handler(request)

    return guarded
