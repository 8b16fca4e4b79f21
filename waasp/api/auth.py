"""Bearer-token authentication of the admin routes and, when a check token is set, of the
check routes: constant-time, no localhost bypass."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from enum import StrEnum

from aiohttp import web

from waasp.api.errors import HttpError
from waasp.api.keys import API_TOKEN, CHECK_TOKEN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="waasp"'}
# The dashboard page also takes the token from this cookie (set by its login form).
TOKEN_COOKIE = "waasp_token"


class Caller(StrEnum):
    """Who is asking the check route."""

    ADMIN = "admin"  # the admin token: the full answer (name included)
    CHECKER = "checker"  # the check token (WAASP_CHECK_TOKEN)
    ANONYMOUS = "anonymous"  # no token, and none is required


def _unauthenticated() -> HttpError:
    return HttpError(
        401, "authentication required: send Authorization: Bearer <token>", headers=_CHALLENGE
    )


def _presented(request: web.Request) -> bytes | None:
    """The bearer token of the Authorization header (None: no bearer token at all)."""
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    # Bytes, so non-ASCII input is compared (and refused) in constant time too.
    return given.encode("utf-8", "surrogateescape")


def check_caller(request: web.Request) -> Caller:
    """Who calls a check route: 401 without a token when WAASP_CHECK_TOKEN is set, 403 for
    a token that is neither the check token nor the admin token."""
    presented = _presented(request)
    required = request.app[CHECK_TOKEN]
    if presented is None:
        if required:
            raise _unauthenticated()
        return Caller.ANONYMOUS
    # Both comparisons run, so the time taken tells nothing about which token matched.
    admin = hmac.compare_digest(presented, request.app[API_TOKEN])
    checker = bool(required) and hmac.compare_digest(presented, required)
    if admin:
        return Caller.ADMIN
    if checker:
        return Caller.CHECKER
    raise HttpError(403, "invalid token")


def check_token(request: web.Request, *, allow_cookie: bool = False) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one.

    ``allow_cookie`` also accepts the token from the ``waasp_token`` cookie, for pages a
    browser navigates to; API calls (and anything that changes state) take the header only,
    so a cross-site request cannot ride on the cookie.
    """
    presented = _presented(request)
    if not request.headers.get("Authorization") and allow_cookie:
        cookie = request.cookies.get(TOKEN_COOKIE, "").strip()
        presented = cookie.encode("utf-8", "surrogateescape") if cookie else None
    if presented is None:
        raise _unauthenticated()
    if not hmac.compare_digest(presented, request.app[API_TOKEN]):
        raise HttpError(403, "invalid API token")


def require_token(handler: Handler) -> Handler:
    """Wrap an admin handler so it runs only for a request bearing the API token."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_token(request)
        return await handler(request)

    return guarded
