"""The monitoring endpoints: tasks, queues, workers, dead letters, schedule, events
(token required, see routes.py). Without a runtime they answer 503."""

from __future__ import annotations

from aiohttp import web

from waasp.runtime.dashboard.errors import HttpError
from waasp.runtime.dashboard.keys import MONITOR
from waasp.runtime.dashboard.params import (
    bounded_int,
    identifier,
    json_response,
    read_json,
    revoke_terminate,
)
from waasp.runtime.dashboard.service import MonitoringService

TASK_ID_MAX = 255
DLQ_LIMIT_DEFAULT = 50
# A page deeper than this would read that many entries of every queue's dead-letter stream.
DLQ_OFFSET_MAX = 100_000
EVENTS_LIMIT_MAX = 1000
MINUTES_MAX = 60
QUEUE_TASKS_LIMIT_DEFAULT = 50
QUEUE_TASKS_LIMIT_MAX = 500


def _monitor(request: web.Request) -> MonitoringService:
    monitor = request.app.get(MONITOR)
    if monitor is None:
        raise HttpError(503, "task runtime not configured")
    return monitor


def _limit(request: web.Request, default: int, high: int = EVENTS_LIMIT_MAX) -> int:
    return bounded_int("limit", request.query.get("limit"), default=default, low=1, high=high)


async def get_task(request: web.Request) -> web.Response:
    """GET /api/v1/tasks/{task_id}: the task's record (PENDING if unknown or expired)."""
    task_id = identifier("task_id", request.match_info["task_id"], max_length=TASK_ID_MAX)
    return json_response(await _monitor(request).task(task_id))


async def revoke_task(request: web.Request) -> web.Response:
    """POST /api/v1/tasks/{task_id}/revoke[?terminate=true]: it will not start; with
    terminate, a running async task is cancelled (body ``{"terminate": true}`` also works)."""
    task_id = identifier("task_id", request.match_info["task_id"], max_length=TASK_ID_MAX)
    body = await read_json(request) if request.body_exists else None
    terminate = revoke_terminate(request.query.get("terminate"), body)
    return json_response(await _monitor(request).revoke(task_id, terminate))


async def list_queues(request: web.Request) -> web.Response:
    """GET /api/v1/queues."""
    return json_response({"queues": await _monitor(request).queues()})


async def queue_tasks(request: web.Request) -> web.Response:
    """GET /api/v1/queues/{name}/tasks?limit=: the oldest waiting and next due delayed tasks."""
    limit = _limit(request, QUEUE_TASKS_LIMIT_DEFAULT, QUEUE_TASKS_LIMIT_MAX)
    return json_response(await _monitor(request).queue_contents(request.match_info["name"], limit))


async def list_workers(request: web.Request) -> web.Response:
    """GET /api/v1/workers."""
    return json_response({"workers": await _monitor(request).workers()})


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /api/v1/dlq?queue=&limit=&offset=: newest first, with the total."""
    queue = request.query.get("queue") or None
    limit = _limit(request, DLQ_LIMIT_DEFAULT)
    offset = bounded_int(
        "offset", request.query.get("offset"), default=0, low=0, high=DLQ_OFFSET_MAX
    )
    return json_response(await _monitor(request).dead_letters(queue, limit, offset))


async def replay_dead_letter(request: web.Request) -> web.Response:
    """POST /api/v1/dlq/{dead_id}/replay: back in its queue; 404 if unknown."""
    dead_id = request.match_info["dead_id"]
    task_id = await _monitor(request).replay(dead_id)
    return json_response({"replayed": dead_id, "task_id": task_id})


async def delete_dead_letter(request: web.Request) -> web.Response:
    """DELETE /api/v1/dlq/{dead_id}: 204; 404 if unknown."""
    await _monitor(request).delete_dead_letter(request.match_info["dead_id"])
    return web.Response(status=204)


async def pause_queue(request: web.Request) -> web.Response:
    """POST /api/v1/queues/{name}/pause: workers stop reading the queue (within a second)."""
    return json_response(await _monitor(request).pause_queue(request.match_info["name"], True))


async def resume_queue(request: web.Request) -> web.Response:
    """POST /api/v1/queues/{name}/resume: workers read the queue again."""
    return json_response(await _monitor(request).pause_queue(request.match_info["name"], False))


async def get_schedule(request: web.Request) -> web.Response:
    """GET /api/v1/schedule: beat entries with next and last runs."""
    return json_response({"schedule": await _monitor(request).schedule()})


async def list_events(request: web.Request) -> web.Response:
    """GET /api/v1/events?limit=: the newest task events, newest first."""
    return json_response({"events": await _monitor(request).events(_limit(request, 100))})


async def list_failures(request: web.Request) -> web.Response:
    """GET /api/v1/failures?limit=: the newest failures, with tracebacks."""
    return json_response({"failures": await _monitor(request).failures(_limit(request, 20))})


async def get_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats?minutes=: tasks per name and event, and recent throughput."""
    minutes = bounded_int(
        "minutes", request.query.get("minutes"), default=10, low=1, high=MINUTES_MAX
    )
    return json_response(await _monitor(request).stats(minutes))
