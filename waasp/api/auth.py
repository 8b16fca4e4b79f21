"""Bearer-token authentication of the admin routes and, when a check token is set, of the
check routes: constant-time, no localhost bypass."""

from __future__ import annotations

import hmac
from enum import StrEnum

from aiohttp import web

from waasp.api.errors import HttpError
from waasp.api.keys import API_TOKEN, CHECK_TOKEN
from waasp.runtime.dashboard import (
    TOKEN_COOKIE,
    Handler,
    check_token,
    presented_token,
    require_token,
    unauthenticated,
)

__all__ = ["TOKEN_COOKIE", "Caller", "Handler", "check_caller", "check_token", "require_token"]


class Caller(StrEnum):
    """Who is asking the check route."""

    ADMIN = "admin"  # the admin token: the full answer (name included)
    CHECKER = "checker"  # the check token (WAASP_CHECK_TOKEN)
    ANONYMOUS = "anonymous"  # no token, and none is required


def check_caller(request: web.Request) -> Caller:
    """Who calls a check route: 401 without a token when WAASP_CHECK_TOKEN is set, 403 for
    a token that is neither the check token nor the admin token."""
    presented = presented_token(request)
    required = request.app[CHECK_TOKEN]
    if presented is None:
        if required:
            raise unauthenticated()
        return Caller.ANONYMOUS
    # Both comparisons run, so the time taken tells nothing about which token matched.
    admin = hmac.compare_digest(presented, request.app[API_TOKEN])
    checker = bool(required) and hmac.compare_digest(presented, required)
    if admin:
        return Caller.ADMIN
    if checker:
        return Caller.CHECKER
    raise HttpError(403, "invalid token")
