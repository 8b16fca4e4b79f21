"""Bearer-token authentication of the admin routes: constant-time, no localhost bypass."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from waasp.api.errors import HttpError
from waasp.api.keys import API_TOKEN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="waasp"'}
# The dashboard page also takes the token from this cookie (set by its login form).
TOKEN_COOKIE = "waasp_token"


def check_token(request: web.Request, *, allow_cookie: bool = False) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one.

    ``allow_cookie`` also accepts the token from the ``waasp_token`` cookie, for pages a
    browser navigates to; API calls (and anything that changes state) take the header only,
    so a cross-site request cannot ride on the cookie.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.strip().partition(" ")
    given = given.strip()
    if not header and allow_cookie and request.cookies.get(TOKEN_COOKIE):
        scheme, given = "bearer", request.cookies[TOKEN_COOKIE].strip()
    if scheme.lower() != "bearer" or not given:
        raise HttpError(
            401, "authentication required: send Authorization: Bearer <token>", headers=_CHALLENGE
        )
    # Bytes, so non-ASCII input is compared (and refused) in constant time too.
    presented = given.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(presented, request.app[API_TOKEN]):
        raise HttpError(403, "invalid API token")


def require_token(handler: Handler) -> Handler:
    """Wrap an admin handler so it runs only for a request bearing the API token."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_token(request)
        return await handler(request)

    return guarded
