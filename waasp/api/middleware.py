"""The one error middleware: domain and HTTP errors become JSON, never a traceback."""

from __future__ import annotations

import uuid

import asyncpg
import structlog
from aiohttp import web

from waasp.api.auth import Handler
from waasp.api.errors import HttpError
from waasp.api.jsonio import MAX_BODY_BYTES, json_response, too_large
from waasp.api.keys import METRICS
from waasp.api.metrics import route_label
from waasp.errors import ConflictError, DependencyUnavailable, NotFoundError, ValidationError

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def error_response(
    status: int, message: str, details: object = None, headers: dict[str, str] | None = None
) -> web.Response:
    """The JSON error body every failure shares: ``{"error": ..., "details": ...}``."""
    return json_response({"error": message, "details": details}, status=status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    if exc.status == 413:
        return error_response(413, too_large().message, {"max_bytes": MAX_BODY_BYTES})
    headers = {}
    details = None
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        details = {"method": exc.method, "allowed": sorted(exc.allowed_methods)}
    return error_response(exc.status, exc.reason.lower(), details, headers)


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Echo a caller's id only if it is short and printable, as it lands in logs and headers.
    if 0 < len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each request by route template, method and final status (outside the error
    middleware, so errors are counted with the status they were answered with)."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS].http_requests.labels(
            route=route_label(request), method=request.method, status=str(status)
        ).inc()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as JSON with its status; log unexpected ones with the request id."""
    request_id = _request_id(request)
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            return await handler(request)
        except HttpError as exc:
            return error_response(exc.status, exc.message, exc.details, exc.headers)
        except ValidationError as exc:
            return error_response(400, str(exc), exc.details)
        except NotFoundError as exc:
            return error_response(404, str(exc))
        except ConflictError as exc:
            return error_response(409, str(exc))
        except DependencyUnavailable as exc:
            # The driver's words (addresses, SQL errors) go to the log, not to the client.
            log.warning("dependency_unavailable", dependency=exc.dependency, error=exc.message)
            return error_response(
                503, f"{exc.dependency} unavailable", {"dependency": exc.dependency}
            )
        except asyncpg.UniqueViolationError:
            return error_response(409, "the resource already exists")
        except asyncpg.DataError as exc:
            # Validation should have caught it; PostgreSQL refusing a value is still the client's.
            # Its message is PostgreSQL's own (types, columns), so it is logged, not returned.
            log.warning("value_refused_by_database", error=str(exc))
            return error_response(400, "invalid value")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _from_http_exception(exc)
        except Exception:
            log.exception(
                "request_failed", request_id=request_id, method=request.method, path=request.path
            )
            return error_response(
                500,
                "internal server error",
                {"request_id": request_id},
                {REQUEST_ID_HEADER: request_id},
            )
