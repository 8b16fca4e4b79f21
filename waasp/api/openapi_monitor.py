"""The monitoring routes' part of the OpenAPI document (merged in openapi.py)."""

from __future__ import annotations

from typing import Any

from waasp.validation import AUDIT_LIMIT_MAX

_STATES = ["PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"]
_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
_AUTH_ERRORS = {401: "no bearer token", 403: "wrong token"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        **_AUTH_ERRORS,
        400: "invalid parameter (details.field names it)",
        404: "no such dead letter",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


_ERROR_OBJECT = {
    "type": ["object", "null"],
    "properties": {
        "type": {"type": "string"},
        "message": {"type": "string"},
        "traceback": {"type": ["string", "null"]},
    },
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
_TIME_OR_NULL = {**_TIME, "type": ["string", "null"]}
MONITOR_SCHEMAS: dict[str, Any] = {
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "state": {
                "type": "string",
                "description": "PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or a state "
                "the task set itself with update_state (e.g. PROGRESS)",
                "examples": [*_STATES, "PROGRESS"],
            },
            "result": {},
            "progress": {
                "description": "the meta of a state the task set itself (update_state), else null",
            },
            "error": _ERROR_OBJECT,
            "retries": {"type": "integer"},
            "queue": {"type": ["string", "null"]},
            "worker": {"type": ["string", "null"]},
            "started_at": _TIME_OR_NULL,
            "date_done": _TIME_OR_NULL,
            "message": {
                "anyOf": [_ref("QueuedTask"), {"type": "null"}],
                "description": "its message (arguments) while it waits, runs or is dead",
            },
        },
    },
    "QueueStats": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "waiting": {"type": "integer"},
            "in_flight": {"type": "integer"},
            "delayed": {"type": "integer"},
            "dead": {"type": "integer"},
            "oldest_waiting_age": {**_NUMBER_OR_NULL, "description": "seconds"},
            "consumers": {
                "type": "integer",
                "description": "consumers active within the visibility timeout",
            },
            "dead_trimmed": {
                "type": "integer",
                "description": "dead letters removed by the dlq_max_len cap (a counter)",
            },
            "paused": {"type": "boolean", "description": "workers do not read it (paused)"},
            "waiting_by_priority": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "waiting tasks per priority ('0'..'9') if the queue uses any "
                "other than 0, else empty",
            },
        },
    },
    "Worker": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "hostname": {"type": "string"},
            "pid": {"type": "integer"},
            "queues": {"type": "array", "items": {"type": "string"}},
            "concurrency": {"type": "integer"},
            "in_flight": {"type": "integer"},
            "running": {"type": "integer"},
            "done": {"type": "integer"},
            "failed": {"type": "integer"},
            "retried": {"type": "integer"},
            "revoked": {"type": "integer"},
            "started_at": _TIME,
            "last_heartbeat": {**_TIME, "description": "ISO 8601, UTC, server clock"},
            "stalled": {"type": "boolean"},
        },
    },
    "DeadLetter": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "QUEUE:ENTRY_ID"},
            "queue": {"type": "string"},
            "reason": {"type": "string"},
            "task": {"type": ["string", "null"]},
            "task_id": {"type": ["string", "null"]},
            "args": {"type": ["array", "null"]},
            "kwargs": {"type": ["object", "null"]},
            "raw_message": {"type": ["string", "null"], "description": "when undecodable"},
            "error": _ERROR_OBJECT,
            "retries": {"type": "integer"},
            "deliveries": {"type": "integer"},
            "failed_at": _TIME,
            "worker": {"type": ["string", "null"]},
            "replayed": {"type": "integer"},
        },
    },
    "TaskEvent": {
        "type": "object",
        "properties": {
            "event": {
                "type": "string",
                "enum": ["succeeded", "retried", "failed", "dead_lettered", "revoked"],
            },
            "task": {"type": "string"},
            "id": {"type": ["string", "null"]},
            "queue": {"type": ["string", "null"]},
            "time": {**_TIME, "description": "ISO 8601, UTC, server clock"},
            "runtime": {"type": "number", "description": "seconds the task ran"},
            "reason": {"type": "string"},
            "error": _ERROR_OBJECT,
        },
    },
    "ScheduleEntry": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "task": {"type": "string"},
            "schedule": {"type": "string"},
            "queue": {"type": "string"},
            "next_run": {"type": ["string", "null"], "format": "date-time"},
            "last_run": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}


def _monitor_errors(*codes: int) -> dict[str, Any]:
    described = _errors(*codes, 401, 403)
    described["503"] = _json(_ref("Error"), "Redis is unreachable, or no task runtime configured")
    return described


def _list_of(key: str, schema: str, description: str) -> dict[str, Any]:
    return _json(
        {"type": "object", "properties": {key: {"type": "array", "items": _ref(schema)}}},
        description,
    )


def _limit_param(default: int, maximum: int = AUDIT_LIMIT_MAX) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return _param("limit", "query", schema)


_DEAD_ID = _param(
    "dead_id",
    "path",
    {"type": "string", "description": "QUEUE:MS-SEQ (ASCII digits, 64-bit parts; else a 400)"},
    required=True,
)
MONITOR_PATHS: dict[str, Any] = {
    "/api/v1/tasks/{task_id}": {
        "get": {
            "summary": "A task's state, result and, while it waits, runs or is dead, arguments",
            "security": _ADMIN,
            "parameters": [
                _param("task_id", "path", {"type": "string", "maxLength": 255}, required=True)
            ],
            "responses": {"200": _json(_ref("Task"), "the task"), **_monitor_errors(400)},
        }
    },
    "/api/v1/queues": {
        "get": {
            "summary": "Per queue: waiting, in flight, delayed, dead, oldest waiting age",
            "security": _ADMIN,
            "responses": {
                "200": _list_of("queues", "QueueStats", "the queues"),
                **_monitor_errors(),
            },
        }
    },
    "/api/v1/workers": {
        "get": {
            "summary": "Live workers with their queues, concurrency and counts",
            "security": _ADMIN,
            "responses": {
                "200": _list_of("workers", "Worker", "the workers"),
                **_monitor_errors(),
            },
        }
    },
    "/api/v1/dlq": {
        "get": {
            "summary": "Dead letters, newest first, paged",
            "security": _ADMIN,
            "parameters": [
                _param("queue", "query", {"type": "string"}),
                _limit_param(50),
                _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 100_000}),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "dead_letters": {"type": "array", "items": _ref("DeadLetter")},
                            "total": {"type": "integer"},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                    "one page and the total",
                ),
                **_monitor_errors(400),
            },
        }
    },
    "/api/v1/dlq/{dead_id}": {
        "delete": {
            "summary": "Delete a dead letter",
            "security": _ADMIN,
            "parameters": [_DEAD_ID],
            "responses": {"204": {"description": "deleted"}, **_monitor_errors(400, 404)},
        }
    },
    "/api/v1/dlq/{dead_id}/replay": {
        "post": {
            "summary": "Put a dead letter back in its queue (retries reset)",
            "security": _ADMIN,
            "parameters": [_DEAD_ID],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "replayed": {"type": "string"},
                            "task_id": {"type": "string"},
                        },
                    },
                    "replayed",
                ),
                "409": _json(_ref("Error"), "the dead letter holds no decodable message"),
                **_monitor_errors(400, 404),
            },
        }
    },
    "/api/v1/schedule": {
        "get": {
            "summary": "Beat schedule entries with next and last runs",
            "security": _ADMIN,
            "responses": {
                "200": _list_of("schedule", "ScheduleEntry", "the entries"),
                **_monitor_errors(),
            },
        }
    },
    "/api/v1/events": {
        "get": {
            "summary": "Recent task events, newest first",
            "security": _ADMIN,
            "parameters": [_limit_param(100)],
            "responses": {
                "200": _list_of("events", "TaskEvent", "the events"),
                **_monitor_errors(400),
            },
        }
    },
    "/api/v1/failures": {
        "get": {
            "summary": "Recent failures and dead letters, with tracebacks",
            "security": _ADMIN,
            "parameters": [_limit_param(20)],
            "responses": {
                "200": _list_of("failures", "TaskEvent", "the failures"),
                **_monitor_errors(400),
            },
        }
    },
    "/api/v1/stats": {
        "get": {
            "summary": "Tasks per name and event, and throughput per 10 s bucket",
            "security": _ADMIN,
            "parameters": [
                _param("minutes", "query", {"type": "integer", "minimum": 1, "maximum": 60})
            ],
            "responses": {"200": _json({"type": "object"}, "counters"), **_monitor_errors(400)},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (the token, unless WAASP_METRICS_PUBLIC=1)",
            "security": [{"bearer": []}, {}],
            "responses": {
                "200": {
                    "description": "Prometheus text format 0.0.4, or OpenMetrics on request",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_errors(401, 403),
            },
        }
    },
    "/dashboard/{name}": {
        "get": {
            "summary": "The page's scripts (app.js, its modules) and style sheet; no token",
            "parameters": [_param("name", "path", {"type": "string"}, required=True)],
            "responses": {"200": {"description": "the file"}, "404": {"description": "none"}},
        }
    },
    "/dashboard": {
        "get": {
            "summary": "The monitoring page (token as a bearer header or waasp_token cookie)",
            "responses": {
                "200": {"description": "the page", "content": {"text/html": {}}},
                "401": {"description": "the page, showing its login form"},
                "403": {"description": "the page, showing its login form"},
            },
        }
    },
}
