"""The check endpoints: the agent's gate asks them (open, or behind WAASP_CHECK_TOKEN)."""

from __future__ import annotations

from aiohttp import web

from waasp import validation
from waasp.api import serialize
from waasp.api.auth import Caller, check_caller
from waasp.api.jsonio import json_response, read_json
from waasp.api.keys import METRICS, REQUEST_ID, SERVICE
from waasp.api.metrics import observed_check
from waasp.validation import CheckRequest


async def post_check(request: web.Request) -> web.Response:
    """POST /api/v1/check {sender_id, channel?, message_preview?}."""
    caller = check_caller(request)
    return await _answer(request, caller, validation.check_request(await read_json(request)))


async def get_check(request: web.Request) -> web.Response:
    """GET /api/v1/check/{sender_id}?channel=."""
    caller = check_caller(request)
    checked = validation.CheckRequest(
        sender_id=validation.sender_id(request.match_info["sender_id"]),
        channel=validation.channel(request.query.get("channel")),
    )
    return await _answer(request, caller, checked)


async def _answer(request: web.Request, caller: Caller, checked: CheckRequest) -> web.Response:
    result = await observed_check(request.app[METRICS], request.app[SERVICE].check(checked))
    full = caller is Caller.ADMIN
    return json_response(serialize.check_result(result, request[REQUEST_ID], full=full))
