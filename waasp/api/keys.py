"""Typed keys of everything the application object holds."""

from __future__ import annotations

from aiohttp import web

from waasp.api.metrics import Metrics
from waasp.api.readiness import ReadinessProbe
from waasp.api.throttle import CheckThrottle
from waasp.db.pool import Database
from waasp.runtime import Runtime
from waasp.runtime.dashboard import MONITOR, PAGE, TOKEN
from waasp.service import WhitelistService
from waasp.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
SERVICE = web.AppKey("service", WhitelistService)
# Append to this list (before the app starts) to make /readyz wait for another dependency.
READINESS_PROBES = web.AppKey("readiness_probes", list[ReadinessProbe])
# The admin token as bytes, ready for hmac.compare_digest: the dashboard's token key, so its
# routes take the same token.
API_TOKEN = TOKEN
# This process's Prometheus metrics (HTTP, checks, enqueue failures) and the runtime collector.
METRICS = web.AppKey("metrics", Metrics)
# The task runtime the monitoring routes inspect, and the dashboard's service over it
# (MONITOR); both are absent when create_app got no runtime, and those routes then answer 503.
RUNTIME = web.AppKey("runtime", Runtime)
# The id of the request being served (the caller's X-Request-ID if sane), set by the error
# middleware; logs, error bodies, the check's answer and the X-Request-ID header carry it.
REQUEST_ID = web.RequestKey("request_id", str)
# WAASP_CHECK_TOKEN as bytes (empty: the check routes are open).
CHECK_TOKEN = web.AppKey("check_token", bytes)
# The check route's per-address rate limit; absent when create_app got no runtime.
THROTTLE = web.AppKey("throttle", CheckThrottle)

__all__ = [
    "API_TOKEN",
    "CHECK_TOKEN",
    "DATABASE",
    "METRICS",
    "MONITOR",
    "PAGE",
    "READINESS_PROBES",
    "REQUEST_ID",
    "RUNTIME",
    "SERVICE",
    "SETTINGS",
    "THROTTLE",
]
