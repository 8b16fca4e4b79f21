"""The dashboard's route table: the monitoring API (token required) and the page with its
files. A host application adds these to its own table; each path also answers with a
trailing slash, and each GET also answers HEAD."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from waasp.runtime.dashboard import monitor, pages
from waasp.runtime.dashboard.auth import Handler, require_token

Routes = Mapping[str, Mapping[str, Handler]]

MONITOR_ROUTES: Routes = {
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
}
PAGE_ROUTES: Routes = {
    "/dashboard": {"GET": pages.dashboard},  # checks the token itself (header or cookie)
    "/dashboard/{name}": {"GET": pages.asset},
    "/": {"GET": pages.root},
}
# The query parameters each route of the monitoring API takes (the WAASP API's OpenAPI
# document says the same: tests/unit/test_query.py holds them equal).
QUERY_PARAMETERS: Mapping[str, frozenset[str]] = {
    "/api/v1/tasks/{task_id}/revoke": frozenset({"terminate"}),
    "/api/v1/queues/{name}/tasks": frozenset({"limit"}),
    "/api/v1/dlq": frozenset({"queue", "limit", "offset"}),
    "/api/v1/events": frozenset({"limit"}),
    "/api/v1/failures": frozenset({"limit"}),
    "/api/v1/stats": frozenset({"minutes"}),
}


def add_routes(app: web.Application, routes: Routes) -> None:
    """Register ``routes``, each path with and without a trailing slash."""
    for path, methods in routes.items():
        for variant in dict.fromkeys((path, path.rstrip("/") + "/")):
            resource = app.router.add_resource(variant)
            for method, handler in methods.items():
                resource.add_route(method, handler)
                if method == "GET":
                    resource.add_route("HEAD", handler)
