"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from waasp.api.jsonio import json_response
from waasp.api.keys import READINESS_PROBES
from waasp.api.openapi import OPENAPI
from waasp.api.readiness import ReadinessProbe, run_probes


async def healthz(_request: web.Request) -> web.Response:
    """GET /healthz: 200 while the process serves, whatever its dependencies do."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 when every dependency answers, else 503 naming the ones that don't."""
    probes: list[ReadinessProbe] = request.app[READINESS_PROBES]
    checks = await run_probes(probes)
    if all(outcome == "ok" for outcome in checks.values()):
        return json_response({"status": "ready", "checks": checks})
    return json_response({"error": "not ready", "details": {"checks": checks}}, status=503)


async def openapi(_request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json."""
    return json_response(OPENAPI)
