"""The OpenAPI 3.1 description served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from waasp import __version__
from waasp.api.openapi_control import CONTROL_PATHS, CONTROL_SCHEMAS
from waasp.api.openapi_dashboard import DASHBOARD_PATHS, DASHBOARD_SCHEMAS
from waasp.api.openapi_monitor import MONITOR_PATHS, MONITOR_SCHEMAS
from waasp.models import AuditAction, TrustLevel
from waasp.validation import (
    AUDIT_LIMIT_DEFAULT,
    AUDIT_LIMIT_MAX,
    CHANNEL_MAX,
    CONTACTS_LIMIT_DEFAULT,
    CONTACTS_LIMIT_MAX,
    MESSAGE_PREVIEW_MAX,
    NAME_MAX,
    NOTES_MAX,
    SEARCH_MAX,
    SENDER_ID_MAX,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid JSON, field or query parameter (details.field names it)",
        401: "no bearer token",
        403: "wrong token",
        404: "not found",
        408: "the body did not arrive within WAASP_HTTP_BODY_TIMEOUT",
        409: "already exists",
        413: "body too large",
        415: "Content-Type is not application/json",
        429: "too many checks from this address (Retry-After: seconds)",
        503: "PostgreSQL unreachable, or the server at its connection cap",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


def _param(
    name: str, where: str, schema: dict[str, Any], required: bool = False, description: str = ""
) -> dict[str, Any]:
    described = {"description": description} if description else {}
    return {"name": name, "in": where, "required": required, "schema": schema, **described}


_SENDER = {"type": "string", "minLength": 1, "maxLength": SENDER_ID_MAX}
_CHANNEL = {"type": ["string", "null"], "maxLength": CHANNEL_MAX}
_TRUST = {"type": "string", "enum": [t.value for t in TrustLevel]}
_SENDER_PATH = _param("sender_id", "path", _SENDER, required=True)
_CHANNEL_QUERY = _param("channel", "query", {"type": "string", "maxLength": CHANNEL_MAX})


def _limit(maximum: int, default: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return _param("limit", "query", schema)


_OFFSET_QUERY = _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0})
_TOTAL = {"type": "integer", "description": "how many match the filters, in every page"}
_ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
_ADMIN_ERRORS = (401, 403, 503)

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "details": {}},
    },
    "CheckRequest": {
        "type": "object",
        "required": ["sender_id"],
        "additionalProperties": False,
        "properties": {
            "sender_id": _SENDER,
            "channel": _CHANNEL,
            "message_preview": {
                "type": ["string", "null"],
                "description": f"stored truncated to {MESSAGE_PREVIEW_MAX} characters",
            },
        },
    },
    "CheckResult": {
        "type": "object",
        "required": ["allowed", "trust", "reason", "request_id"],
        "additionalProperties": False,
        "properties": {
            "allowed": {"type": "boolean"},
            "trust": {
                **_TRUST,
                "type": ["string", "null"],
                "description": "null unless allowed (with the admin token: any known sender's)",
            },
            "reason": {
                "type": "string",
                "description": "a refusal reads 'sender not allowed' but with the admin token",
            },
            "request_id": {"type": "string", "description": "also the X-Request-ID header"},
            "name": {"type": ["string", "null"], "description": "only with the admin token"},
        },
    },
    "NewContact": {
        "type": "object",
        "required": ["sender_id"],
        "additionalProperties": False,
        "properties": {
            "sender_id": _SENDER,
            "trust_level": {**_TRUST, "default": "trusted"},
            "channel": _CHANNEL,
            "name": {"type": ["string", "null"], "maxLength": NAME_MAX},
            "notes": {"type": ["string", "null"], "maxLength": NOTES_MAX},
        },
    },
    "ContactChanges": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "trust_level": _TRUST,
            "name": {"type": ["string", "null"], "maxLength": NAME_MAX},
            "notes": {"type": ["string", "null"], "maxLength": NOTES_MAX},
        },
    },
    "Contact": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "sender_id": {"type": "string"},
            "channel": {"type": ["string", "null"], "description": "null: every channel"},
            "trust_level": _TRUST,
            "name": {"type": ["string", "null"]},
            "notes": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "action": {"type": "string", "enum": [a.value for a in AuditAction]},
            "sender_id": {"type": "string"},
            "channel": {"type": ["string", "null"]},
            "contact_id": {"type": ["integer", "null"]},
            "message_preview": {"type": ["string", "null"]},
            "metadata": {"type": "object"},
            "reason": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}

_SCHEMAS.update(MONITOR_SCHEMAS)
_SCHEMAS.update(DASHBOARD_SCHEMAS)
_SCHEMAS.update(CONTROL_SCHEMAS)

_CHECK_RESPONSES = {
    "200": _json(_ref("CheckResult"), "the decision"),
    **_errors(400, 401, 403, 429, 503),
}
# Open, unless WAASP_CHECK_TOKEN is set; the admin token also gets the contact's name.
_CHECK_SECURITY: list[dict[str, list[str]]] = [{}, {"bearer": []}]

_PATHS: dict[str, Any] = {
    "/api/v1/check": {
        "post": {
            "summary": "May this sender pass? (the decision is audited)",
            "security": _CHECK_SECURITY,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("CheckRequest")}},
            },
            "responses": {**_CHECK_RESPONSES, **_errors(408, 413, 415)},
        }
    },
    "/api/v1/check/{sender_id}": {
        "get": {
            "summary": "The same check, as a GET",
            "security": _CHECK_SECURITY,
            "parameters": [_SENDER_PATH, _CHANNEL_QUERY],
            "responses": _CHECK_RESPONSES,
        }
    },
    "/api/v1/contacts": {
        "get": {
            "summary": "List contacts, a page at a time (by sender, then channel)",
            "security": _ADMIN,
            "parameters": [
                _param("trust_level", "query", _TRUST),
                _CHANNEL_QUERY,
                _param(
                    "search",
                    "query",
                    {"type": "string", "maxLength": SEARCH_MAX},
                    description="a part of the sender_id or name, in any case",
                ),
                _limit(CONTACTS_LIMIT_MAX, CONTACTS_LIMIT_DEFAULT),
                _OFFSET_QUERY,
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "contacts": {"type": "array", "items": _ref("Contact")},
                            "total": _TOTAL,
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                    "one page of contacts",
                ),
                **_errors(400, *_ADMIN_ERRORS),
            },
        },
        "post": {
            "summary": "Add a contact",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("NewContact")}},
            },
            "responses": {
                "201": _json(_ref("Contact"), "the new contact"),
                **_errors(400, 408, 409, 413, 415, *_ADMIN_ERRORS),
            },
        },
    },
    "/api/v1/contacts/{sender_id}": {
        "parameters": [_SENDER_PATH, _CHANNEL_QUERY],
        "get": {
            "summary": "One contact (no channel: the global row)",
            "security": _ADMIN,
            "responses": {
                "200": _json(_ref("Contact"), "the contact"),
                **_errors(400, 404, *_ADMIN_ERRORS),
            },
        },
        "patch": {
            "summary": "Change trust level, name or notes",
            "security": _ADMIN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ContactChanges")}},
            },
            "responses": {
                "200": _json(_ref("Contact"), "the updated contact"),
                **_errors(400, 404, 408, 413, 415, *_ADMIN_ERRORS),
            },
        },
        "delete": {
            "summary": "Remove a contact",
            "security": _ADMIN,
            "responses": {"204": {"description": "removed"}, **_errors(400, 404, *_ADMIN_ERRORS)},
        },
    },
    "/api/v1/audit": {
        "get": {
            "summary": "The audit trail, newest first",
            "security": _ADMIN,
            "parameters": [
                _param("sender_id", "query", _SENDER),
                _param(
                    "action", "query", {"type": "string", "enum": [a.value for a in AuditAction]}
                ),
                _CHANNEL_QUERY,
                _param(
                    "since",
                    "query",
                    {"type": "string", "format": "date-time", "description": "no offset: UTC"},
                ),
                _limit(AUDIT_LIMIT_MAX, AUDIT_LIMIT_DEFAULT),
                _OFFSET_QUERY,
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "logs": {"type": "array", "items": _ref("AuditEntry")},
                            "count": {"type": "integer", "description": "entries in this page"},
                            "total": _TOTAL,
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                    "one page of entries",
                ),
                **_errors(400, *_ADMIN_ERRORS),
            },
        }
    },
    "/api/v1/audit/stats": {
        "get": {
            "summary": "Totals per action and hourly rollups of the last 24 hours",
            "security": _ADMIN,
            "responses": {
                "200": _json({"type": "object"}, "the statistics"),
                **_errors(*_ADMIN_ERRORS),
            },
        }
    },
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "serving"}}}},
    "/readyz": {
        "get": {
            "summary": "Readiness: every dependency reachable",
            "responses": {"200": {"description": "ready"}, **_errors(503)},
        }
    },
    "/api/v1/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "WAASP",
        "version": __version__,
        "description": (
            "A sender gate for AI agents: may this sender's message reach the agent? Every "
            "route refuses a query parameter it does not list here, or one given twice (400), "
            "answers HEAD where it answers GET, and may answer 503 when the server is at its "
            "connection cap."
        ),
    },
    "paths": {**_PATHS, **MONITOR_PATHS, **CONTROL_PATHS, **DASHBOARD_PATHS},
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
