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


def check_token(request: web.Request) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.strip().partition(" ")
    given = given.strip()
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
