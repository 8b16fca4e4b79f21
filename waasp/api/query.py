"""Query strings hold only what a route documents: an unknown or repeated parameter is a 400.

A typo must never weaken an answer: ``/api/v1/check/mallory?chanel=email`` would otherwise
check ``mallory`` on every channel. The parameters each route takes are read from the OpenAPI
document, so the document and the server cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from waasp.api.auth import Handler
from waasp.api.metrics import UNMATCHED_ROUTE, route_label
from waasp.api.openapi import OPENAPI
from waasp.runtime.dashboard import check_query

__all__ = ["QUERY_PARAMETERS", "check_query", "documented_query", "query_middleware"]

_METHODS = ("get", "put", "post", "delete", "patch")


def documented_query(document: Mapping[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """``(path template, METHOD) -> query parameter names`` of every documented operation."""
    found: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method in item:
                params = [*shared, *item[method].get("parameters", [])]
                names = frozenset(p["name"] for p in params if p["in"] == "query")
                found[(path, method.upper())] = names
    return found


QUERY_PARAMETERS = documented_query(OPENAPI)


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse unknown and repeated query parameters before the handler (and its auth) runs."""
    if not request.rel_url.raw_query_string:  # most requests: nothing to look up
        return await handler(request)
    route = route_label(request)
    if route != UNMATCHED_ROUTE and request.query:
        method = "GET" if request.method == "HEAD" else request.method
        check_query(request.query, QUERY_PARAMETERS.get((route, method), frozenset()))
    return await handler(request)
