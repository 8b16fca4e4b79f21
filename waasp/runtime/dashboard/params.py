"""Reading the dashboard's path and query parameters, and writing its JSON answers (orjson)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiMapping

from waasp.runtime.dashboard.errors import invalid

_INTEGER = re.compile(r"-?[0-9]{1,20}")


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
