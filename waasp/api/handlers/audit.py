"""The audit trail endpoints (token required, see routes.py)."""

from __future__ import annotations

from aiohttp import web

from waasp import validation
from waasp.api import serialize
from waasp.api.jsonio import json_response
from waasp.api.keys import SERVICE


async def list_audit(request: web.Request) -> web.Response:
    """GET /api/v1/audit?sender_id=&action=&channel=&since=&limit=&offset=: one page, newest
    first, with the number of entries matching the filters."""
    query = validation.audit_query(request.query)
    logs = await request.app[SERVICE].list_audit(query)
    total = await request.app[SERVICE].count_audit(query)
    return json_response(
        {
            "logs": [serialize.audit_entry(entry) for entry in logs],
            "count": len(logs),
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


async def audit_stats(request: web.Request) -> web.Response:
    """GET /api/v1/audit/stats."""
    stats = await request.app[SERVICE].audit_stats()
    return json_response(serialize.audit_stats(stats))


async def recent_blocked(request: web.Request) -> web.Response:
    """GET /api/v1/audit/recent-blocked?window=1h|24h&limit=: who was refused lately."""
    window = request.query.get("window") or "1h"
    limit = validation.bounded_int(
        "limit",
        request.query.get("limit"),
        default=validation.RECENT_LIMIT_DEFAULT,
        low=1,
        high=validation.RECENT_LIMIT_MAX,
    )
    recent = await request.app[SERVICE].recent_blocked(validation.recent_window(window), limit)
    return json_response(serialize.recent_blocked(recent, window))
