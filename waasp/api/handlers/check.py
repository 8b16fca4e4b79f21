"""The check endpoints, open to any caller: the agent's gate asks them."""

from __future__ import annotations

from aiohttp import web

from waasp import validation
from waasp.api import serialize
from waasp.api.jsonio import json_response, read_json
from waasp.api.keys import METRICS, SERVICE
from waasp.api.metrics import observed_check


async def post_check(request: web.Request) -> web.Response:
    """POST /api/v1/check {sender_id, channel?, message_preview?}."""
    checked = validation.check_request(await read_json(request))
    result = await observed_check(request.app[METRICS], request.app[SERVICE].check(checked))
    return json_response(serialize.check_result(result))


async def get_check(request: web.Request) -> web.Response:
    """GET /api/v1/check/{sender_id}?channel=."""
    checked = validation.CheckRequest(
        sender_id=validation.sender_id(request.match_info["sender_id"]),
        channel=validation.channel(request.query.get("channel")),
    )
    result = await observed_check(request.app[METRICS], request.app[SERVICE].check(checked))
    return json_response(serialize.check_result(result))
