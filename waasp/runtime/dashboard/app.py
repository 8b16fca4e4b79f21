"""The standalone dashboard: the page, the monitoring API and /metrics for any runtime.

``python -m waasp.runtime dashboard -A module:runtime`` serves it; an application with an
aiohttp server of its own mounts the same routes instead (``mount`` and ``MONITOR_ROUTES`` /
``PAGE_ROUTES``, as the WAASP API does).
"""

from __future__ import annotations

import uuid

import structlog
from aiohttp import web

from waasp.runtime.app import Runtime
from waasp.runtime.dashboard.auth import Handler, check_token
from waasp.runtime.dashboard.compose import Pages, compose
from waasp.runtime.dashboard.errors import HttpError
from waasp.runtime.dashboard.keys import MONITOR, PAGE, TOKEN
from waasp.runtime.dashboard.metrics import RuntimeMetrics
from waasp.runtime.dashboard.params import check_query, error_response
from waasp.runtime.dashboard.routes import (
    MONITOR_ROUTES,
    PAGE_ROUTES,
    QUERY_PARAMETERS,
    add_routes,
)
from waasp.runtime.dashboard.service import MonitoringService

log = structlog.get_logger(__name__)

METRICS = web.AppKey("runtime_metrics", RuntimeMetrics)
METRICS_PUBLIC = web.AppKey("metrics_public", bool)
# Answers are an operator's business (task arguments, tracebacks): no cache may keep them.
_DEFAULT_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def mount(app: web.Application, runtime: Runtime | None, token: str, pages: Pages) -> None:
    """Give ``app`` what the dashboard's routes read: the token, the page composed with
    ``pages``, and (with a runtime) the monitoring service; the caller adds the routes."""
    app[TOKEN] = token.encode("utf-8")
    app[PAGE] = compose(pages)
    if runtime is not None:
        app[MONITOR] = MonitoringService(runtime)


def create_app(
    runtime: Runtime, token: str, *, pages: Pages | None = None, metrics_public: bool = False
) -> web.Application:
    """The standalone dashboard of ``runtime`` (owned by the caller, who closes it), every
    route but /healthz and (with ``metrics_public``) /metrics behind ``token``."""
    if not token:
        raise ValueError("the dashboard needs a token")
    app = web.Application(middlewares=[_error_middleware, _query_middleware])
    app.on_response_prepare.append(_default_headers)
    mount(app, runtime, token, pages or Pages())
    app[METRICS] = RuntimeMetrics()
    app[METRICS].runtime.configured = True
    app[METRICS_PUBLIC] = metrics_public
    add_routes(app, MONITOR_ROUTES)
    add_routes(app, PAGE_ROUTES)
    add_routes(app, {"/metrics": {"GET": _metrics}, "/healthz": {"GET": _healthz}})
    return app


async def _metrics(request: web.Request) -> web.Response:
    """GET /metrics: the runtime's figures, read from Redis now (token unless public)."""
    if not request.app[METRICS_PUBLIC]:
        check_token(request)
    snapshot = await request.app[MONITOR].snapshot()
    body, content_type = request.app[METRICS].render(snapshot, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


async def _healthz(_request: web.Request) -> web.Response:
    """GET /healthz: the process answers (Redis is /metrics' ``waasp_redis_up``)."""
    return web.Response(text="ok")


async def _default_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _DEFAULT_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def _query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse query parameters a route does not take, and repeated ones."""
    resource = request.match_info.route.resource
    if resource is not None and request.query:
        allowed = QUERY_PARAMETERS.get(resource.canonical.rstrip("/") or "/", frozenset())
        check_query(request.query, allowed)
    return await handler(request)


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as JSON with its status; log an unexpected one with an id."""
    try:
        return await handler(request)
    except HttpError as exc:
        return error_response(exc.status, exc.message, exc.details, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower())
    except Exception as exc:
        request_id = uuid.uuid4().hex
        log.error("request_failed", request_id=request_id, path=request.path, exc_info=exc)
        return error_response(500, "internal server error", {"request_id": request_id})
