"""The whole route table. Each path also answers with a trailing slash, and each GET also
answers HEAD."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from waasp.api.auth import Handler, require_token
from waasp.api.handlers import audit, check, contacts, health, observe
from waasp.runtime.dashboard import MONITOR_ROUTES, PAGE_ROUTES, add_routes

ROUTES: Mapping[str, Mapping[str, Handler]] = {
    "/api/v1/check": {"POST": check.post_check},
    "/api/v1/check/{sender_id}": {"GET": check.get_check},
    "/api/v1/contacts": {
        "GET": require_token(contacts.list_contacts),
        "POST": require_token(contacts.create_contact),
    },
    "/api/v1/contacts/{sender_id}": {
        "GET": require_token(contacts.get_contact),
        "PATCH": require_token(contacts.update_contact),
        "DELETE": require_token(contacts.delete_contact),
    },
    "/api/v1/audit": {"GET": require_token(audit.list_audit)},
    "/api/v1/audit/stats": {"GET": require_token(audit.audit_stats)},
    "/api/v1/audit/recent-blocked": {"GET": require_token(audit.recent_blocked)},
    **MONITOR_ROUTES,
    "/api/v1/openapi.json": {"GET": health.openapi},
    "/metrics": {"GET": observe.metrics},  # token unless WAASP_METRICS_PUBLIC
    **PAGE_ROUTES,
    "/healthz": {"GET": health.healthz},
    "/readyz": {"GET": health.readyz},
}


def setup_routes(app: web.Application) -> None:
    """Register every route, under its path with and without a trailing slash."""
    add_routes(app, ROUTES)
