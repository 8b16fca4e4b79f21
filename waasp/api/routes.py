"""The whole route table. Each path also answers with a trailing slash, and each GET also
answers HEAD."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from waasp.api.auth import Handler, require_token
from waasp.api.handlers import audit, check, contacts, health, monitor, observe

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
    "/api/v1/tasks/{task_id}": {"GET": require_token(monitor.get_task)},
    "/api/v1/tasks/{task_id}/revoke": {"POST": require_token(monitor.revoke_task)},
    "/api/v1/queues": {"GET": require_token(monitor.list_queues)},
    "/api/v1/queues/{name}/tasks": {"GET": require_token(monitor.queue_tasks)},
    "/api/v1/queues/{name}/pause": {"POST": require_token(monitor.pause_queue)},
    "/api/v1/queues/{name}/resume": {"POST": require_token(monitor.resume_queue)},
    "/api/v1/workers": {"GET": require_token(monitor.list_workers)},
    "/api/v1/dlq": {"GET": require_token(monitor.list_dead_letters)},
    "/api/v1/dlq/{dead_id}": {"DELETE": require_token(monitor.delete_dead_letter)},
    "/api/v1/dlq/{dead_id}/replay": {"POST": require_token(monitor.replay_dead_letter)},
    "/api/v1/schedule": {"GET": require_token(monitor.get_schedule)},
    "/api/v1/events": {"GET": require_token(monitor.list_events)},
    "/api/v1/failures": {"GET": require_token(monitor.list_failures)},
    "/api/v1/stats": {"GET": require_token(monitor.get_stats)},
    "/api/v1/openapi.json": {"GET": health.openapi},
    "/metrics": {"GET": observe.metrics},  # token unless WAASP_METRICS_PUBLIC
    "/dashboard": {"GET": observe.dashboard},  # checks the token itself (header or cookie)
    "/dashboard/{name}": {"GET": observe.asset},
    "/": {"GET": observe.root},
    "/healthz": {"GET": health.healthz},
    "/readyz": {"GET": health.readyz},
}


def setup_routes(app: web.Application) -> None:
    """Register every route, under its path with and without a trailing slash."""
    for path, methods in ROUTES.items():
        for variant in dict.fromkeys((path, path.rstrip("/") + "/")):
            resource = app.router.add_resource(variant)
            for method, handler in methods.items():
                resource.add_route(method, handler)
                if method == "GET":
                    resource.add_route("HEAD", handler)
