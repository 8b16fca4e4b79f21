"""The OpenAPI part of the queue controls: pause and resume (merged in openapi.py)."""

from __future__ import annotations

from typing import Any

from waasp.api.openapi_monitor import _ADMIN, _json, _monitor_errors, _param, _ref

_QUEUE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,100}$"}

CONTROL_SCHEMAS: dict[str, Any] = {
    "QueuePause": {
        "type": "object",
        "properties": {
            "queue": {"type": "string"},
            "paused": {"type": "boolean", "description": "whether the queue is paused now"},
            "changed": {"type": "boolean", "description": "false: it was so already"},
        },
    },
}


def _control(summary: str) -> dict[str, Any]:
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
    "/api/v1/queues/{name}/pause": _control(
        "Pause a queue: every worker stops reading it within a second (kept in Redis)"
    ),
    "/api/v1/queues/{name}/resume": _control("Resume a paused queue"),
}
