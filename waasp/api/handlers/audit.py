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
