"""Reading the dashboard's path and query parameters, and writing its JSON answers (orjson)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiMapping

from waasp.runtime.dashboard.errors import HttpError, invalid

_INTEGER = re.compile(r"-?[0-9]{1,20}")
_FLAGS = {"true": True, "1": True, "false": False, "0": False}
BODY_MAX_BYTES = 4096  # the dashboard's bodies are a few flags
BODY_TIMEOUT = 10.0  # a client dripping its body holds a connection


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Encode ``data`` with orjson into an application/json response."""
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    status: int, message: str, details: object = None, headers: dict[str, str] | None = None
) -> web.Response:
    """The JSON error body every failure shares: ``{"error": ..., "details": ...}``."""
    return json_response({"error": message, "details": details}, status=status, headers=headers)


def bounded_int(field: str, value: str | None, *, default: int, low: int, high: int) -> int:
    """Parse an integer query parameter (ASCII digits, an optional minus) in [low, high]."""
    if value is None or value == "":
        return default
    if not _INTEGER.fullmatch(value):
        raise invalid(field, "must be an integer (ASCII digits)")
    number = int(value)
    if not low <= number <= high:
        raise invalid(field, f"must be from {low} to {high}")
    return number


def identifier(field: str, value: str, *, max_length: int) -> str:
    """Check a path parameter: not blank, at most ``max_length`` long, no NUL, valid Unicode."""
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise invalid(field, "must not contain NUL bytes")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(field, "must be valid Unicode text") from None
    if not value.strip():
        raise invalid(field, "must not be empty")
    return value


def check_query(params: MultiMapping[str], allowed: frozenset[str]) -> None:
    """Refuse (400) the parameters not in ``allowed``, naming them, and any given twice: a
    typo must never weaken an answer."""
    unknown = sorted({name for name in params if name not in allowed})
    if unknown:
        raise invalid(
            unknown[0],
            f"unknown query parameter(s): {', '.join(unknown)}",
            unknown=unknown,
            allowed=sorted(allowed),
        )
    repeated = sorted(name for name in set(params) if len(params.getall(name)) > 1)
    if repeated:
        raise invalid(repeated[0], "must be given at most once", repeated=repeated)


async def read_json(request: web.Request) -> Any:
    """The decoded JSON body of a control route: 415 for another content type, 413 past
    ``BODY_MAX_BYTES``, 408 when it has not arrived within ``BODY_TIMEOUT``, 400 if invalid."""
    mime = request.content_type
    if request.headers.get("Content-Type") and not mime.endswith(("/json", "+json")):
        raise HttpError(415, "Content-Type must be application/json", {"content_type": mime})
    if request.content_length is not None and request.content_length > BODY_MAX_BYTES:
        raise HttpError(413, f"body larger than {BODY_MAX_BYTES} bytes", close=True)
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            body = await request.content.read(BODY_MAX_BYTES + 1)
    except TimeoutError:
        raise HttpError(408, "request body not received in time", close=True) from None
    if len(body) > BODY_MAX_BYTES:
        raise HttpError(413, f"body larger than {BODY_MAX_BYTES} bytes", close=True)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid("body", f"invalid JSON: {exc}") from None


def flag(field: str, value: str | None) -> bool | None:
    """A boolean query parameter: ``true``/``1`` or ``false``/``0`` (None when absent)."""
    if value is None:
        return None
    found = _FLAGS.get(value.strip().lower())
    if found is None:
        raise invalid(field, "must be true or false")
    return found


def revoke_terminate(query: str | None, body: object) -> bool:
    """``terminate`` of POST /api/v1/tasks/{id}/revoke, from the query or a JSON body
    ``{"terminate": bool}`` (not both); False when neither gives it."""
    from_query = flag("terminate", query)
    if body is None:
        return bool(from_query)
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    unknown = sorted(set(body) - {"terminate"})
    if unknown:
        raise invalid(unknown[0], "is not a known field")
    value = body.get("terminate")
    if value is not None and not isinstance(value, bool):
        raise invalid("terminate", "must be true or false")
    if value is not None and from_query is not None:
        raise invalid("terminate", "give it in the query or the body, not both")
    return bool(value if value is not None else from_query)
