"""The OpenAPI part of the reads the dashboard added: recent refusals and queue contents, and
the home page that leads to it (merged in openapi.py)."""

from __future__ import annotations

from typing import Any

from waasp.api.openapi_monitor import (
    _ADMIN,
    _TIME,
    _TIME_OR_NULL,
    _errors,
    _json,
    _limit_param,
    _monitor_errors,
    _param,
    _ref,
)
from waasp.runtime.dashboard import QUEUE_TASKS_LIMIT_DEFAULT, QUEUE_TASKS_LIMIT_MAX
from waasp.validation import RECENT_LIMIT_DEFAULT, RECENT_LIMIT_MAX, RECENT_WINDOWS

_QUEUE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,100}$"}


def _listing(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "total": {"type": "integer"},
            "tasks": {"type": "array", "items": _ref("QueuedTask")},
        },
    }


DASHBOARD_SCHEMAS: dict[str, Any] = {
    "QueuedTask": {
        "type": "object",
        "description": "A task's message where it sits; task fields are null if undecodable",
        "properties": {
            "queue": {"type": "string"},
            "place": {"type": "string", "enum": ["waiting", "in_flight", "delayed", "dead"]},
            "task": {"type": ["string", "null"]},
            "task_id": {"type": ["string", "null"]},
            "args": {"type": ["array", "null"]},
            "kwargs": {"type": ["object", "null"]},
            "retries": {"type": ["integer", "null"]},
            "priority": {"type": "integer", "description": "0 (the best) to 9"},
            "enqueued_at": _TIME_OR_NULL,
            "due_at": {**_TIME_OR_NULL, "description": "when a delayed task is due"},
            "due_in": {"type": ["number", "null"], "description": "seconds, server clock"},
            "entry_id": {"type": ["string", "null"], "description": "the stream entry"},
            "dead_id": {"type": ["string", "null"], "description": "QUEUE:ENTRY_ID if dead"},
            "raw_message": {"type": ["string", "null"], "description": "when undecodable"},
        },
    },
    "BlockedSender": {
        "type": "object",
        "properties": {
            "sender_id": {"type": "string"},
            "channel": {"type": ["string", "null"], "description": "the checks' channel"},
            "checks": {"type": "integer", "description": "refused checks in the window"},
            "first_seen": _TIME,
            "last_seen": _TIME,
            "contact": {
                "anyOf": [_ref("Contact"), {"type": "null"}],
                "description": "the contact a check on this channel matches now; null: unknown",
            },
        },
    },
}

DASHBOARD_PATHS: dict[str, Any] = {
    "/api/v1/audit/recent-blocked": {
        "get": {
            "summary": "Senders refused in the last hour or day, most refused first",
            "security": _ADMIN,
            "parameters": [
                _param("window", "query", {"type": "string", "enum": list(RECENT_WINDOWS)}),
                _limit_param(RECENT_LIMIT_DEFAULT, RECENT_LIMIT_MAX),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "window": {"type": "string"},
                            "since": _TIME,
                            "checks": {"type": "integer", "description": "in the window"},
                            "senders": {"type": "integer", "description": "in the window"},
                            "blocked": {"type": "array", "items": _ref("BlockedSender")},
                        },
                    },
                    "the refused senders and the window's totals",
                ),
                **_errors(400, 401, 403),
                "503": _json(_ref("Error"), "PostgreSQL unreachable"),
            },
        }
    },
    "/api/v1/queues/{name}/tasks": {
        "get": {
            "summary": "A queue's oldest waiting and next due delayed tasks, with arguments",
            "security": _ADMIN,
            "parameters": [
                _param("name", "path", _QUEUE_NAME, required=True),
                _limit_param(QUEUE_TASKS_LIMIT_DEFAULT, QUEUE_TASKS_LIMIT_MAX),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "queue": {"type": "string"},
                            "time": {**_TIME, "description": "the Redis server's clock"},
                            "limit": {"type": "integer"},
                            "waiting": _listing("oldest first"),
                            "delayed": _listing("next due first"),
                        },
                    },
                    "the queue's first tasks and totals",
                ),
                **_monitor_errors(400),
            },
        }
    },
    "/": {
        "get": {
            "summary": "The home page: a redirect to the dashboard",
            "responses": {
                "302": {
                    "description": "to /dashboard",
                    "headers": {"Location": {"schema": {"type": "string", "const": "/dashboard"}}},
                }
            },
        }
    },
}
