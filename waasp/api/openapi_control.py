"""The control routes' part of the OpenAPI document (merged in openapi.py): acting on tasks
and queues rather than reading them."""

from __future__ import annotations

from typing import Any

# The monitoring part's builders: one shape for every admin route's errors and bodies.
from waasp.api.openapi_monitor import _ADMIN, _json, _monitor_errors, _param, _ref

_QUEUE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,100}$"}
_TERMINATE = "also stop it if it runs: an async task is cancelled, a sync task's result discarded"

CONTROL_SCHEMAS: dict[str, Any] = {
    "RevokeReport": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "revoked": {"type": "boolean"},
            "terminate": {"type": "boolean"},
            "known": {
                "type": "boolean",
                "description": "whether the task had a record (a queued task may have none)",
            },
            "previous_state": {"type": ["string", "null"]},
            "note": {"type": "string", "description": "what happens to the task now"},
        },
    },
    "QueuePause": {
        "type": "object",
        "properties": {
            "queue": {"type": "string"},
            "paused": {"type": "boolean", "description": "whether the queue is paused now"},
            "changed": {"type": "boolean", "description": "false: it was so already"},
        },
    },
}


def _queue_control(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _ADMIN,
            "parameters": [_param("name", "path", _QUEUE_NAME, required=True)],
            "responses": {
                "200": _json(_ref("QueuePause"), "the queue's state"),
                **_monitor_errors(400),
            },
        }
    }


CONTROL_PATHS: dict[str, Any] = {
    "/api/v1/tasks/{task_id}/revoke": {
        "post": {
            "summary": "Revoke a task: it will not start (a finished one keeps its outcome)",
            "security": _ADMIN,
            "parameters": [
                _param("task_id", "path", {"type": "string", "maxLength": 255}, required=True),
                {**_param("terminate", "query", {"type": "boolean"}), "description": _TERMINATE},
            ],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"terminate": {"type": "boolean"}},
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {
                "200": _json(_ref("RevokeReport"), "revoked"),
                **_monitor_errors(400),
            },
        }
    },
    "/api/v1/queues/{name}/pause": _queue_control(
        "Pause a queue: every worker stops reading it within a second (kept in Redis)"
    ),
    "/api/v1/queues/{name}/resume": _queue_control("Resume a paused queue"),
}
