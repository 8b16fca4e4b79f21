"""The check endpoints: the agent's gate asks them (open, or behind WAASP_CHECK_TOKEN;
anonymous callers rate-limited per address)."""

from __future__ import annotations

from aiohttp import web

from waasp import validation
from waasp.api import serialize
from waasp.api.auth import Caller, check_caller
from waasp.api.errors import HttpError
from waasp.api.jsonio import json_response, read_json
from waasp.api.keys import METRICS, REQUEST_ID, SERVICE, THROTTLE
from waasp.api.metrics import observed_check
from waasp.api.throttle import CheckThrottle
from waasp.validation import CheckRequest


async def post_check(request: web.Request) -> web.Response:
    """POST /api/v1/check {sender_id, channel?, message_preview?}."""
    caller = await admit_check(request, request.app.get(THROTTLE))
    return await _answer(request, caller, validation.check_request(await read_json(request)))


async def get_check(request: web.Request) -> web.Response:
    """GET /api/v1/check/{sender_id}?channel=."""
    caller = await admit_check(request, request.app.get(THROTTLE))
    checked = validation.CheckRequest(
        sender_id=validation.sender_id(request.match_info["sender_id"]),
        channel=validation.channel(request.query.get("channel")),
    )
    return await _answer(request, caller, checked)


async def admit_check(request: web.Request, throttle: CheckThrottle | None) -> Caller:
    """Who calls (401/403 as ``check_caller`` decides); anonymous callers and refused tokens
    draw from their address's bucket first, so guessing a token costs what a check costs."""
    try:
        caller = check_caller(request)
    except HttpError:
        if throttle is not None:
            await throttle.admit(request.remote)
        raise
    if caller is Caller.ANONYMOUS and throttle is not None:
        await throttle.admit(request.remote)
    return caller


async def _answer(request: web.Request, caller: Caller, checked: CheckRequest) -> web.Response:
    result = await observed_check(request.app[METRICS], request.app[SERVICE].check(checked))
    full = caller is Caller.ADMIN
    return json_response(serialize.check_result(result, request[REQUEST_ID], full=full))
