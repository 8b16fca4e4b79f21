"""Reading JSON request bodies and writing JSON responses (orjson, in this one module)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import hdrs, web

from waasp.api.errors import HttpError
from waasp.api.keys import SETTINGS
from waasp.errors import ValidationError
from waasp.runtime.dashboard import json_response

__all__ = ["MAX_BODY_BYTES", "encode", "json_response", "read_json", "too_large"]

# Bodies are a few hundred bytes; a megabyte is generous and stops memory abuse.
MAX_BODY_BYTES = 1024 * 1024
JSON_TYPES = frozenset({"application/json"})


def encode(data: Any) -> bytes:
    """``data`` as JSON bytes."""
    return orjson.dumps(data)


def too_large() -> HttpError:
    """The 413 for a body over MAX_BODY_BYTES."""
    return HttpError(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)")


async def read_json(request: web.Request) -> Any:
    """Return the decoded JSON body; 415 for a non-JSON content type, 413, 400, or 408 when it
    has not arrived within WAASP_HTTP_BODY_TIMEOUT (a client dripping it holds a connection)."""
    if hdrs.CONTENT_TYPE in request.headers:
        mime = request.content_type
        if mime not in JSON_TYPES and not mime.endswith("+json"):
            raise HttpError(415, "Content-Type must be application/json", {"content_type": mime})
    # Refuse early on the declared length, before reading a byte of it.
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    body = await _body(request)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError("body", f"invalid JSON: {exc}") from None


async def _body(request: web.Request) -> bytes:
    if request.content.is_eof():
        # All of it came with the head (a check's body, usually): no timer to arm.
        return await request.read()
    try:
        async with asyncio.timeout(request.app[SETTINGS].http_body_timeout):
            return await request.read()  # raises 413 past client_max_size for chunked bodies
    except TimeoutError:
        raise HttpError(408, "request body not received in time", close=True) from None
