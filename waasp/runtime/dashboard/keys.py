"""Typed keys of what the dashboard's handlers read from the application object (the
standalone dashboard's, or a host application's that mounts the dashboard's routes)."""

from __future__ import annotations

from aiohttp import web

from waasp.runtime.dashboard.compose import Page
from waasp.runtime.dashboard.service import MonitoringService

# The token as bytes, ready for hmac.compare_digest.
TOKEN = web.AppKey("api_token", bytes)
# The runtime the monitoring routes inspect; absent (they answer 503) when there is none.
MONITOR = web.AppKey("monitor", MonitoringService)
# The composed page and the files served beside it.
PAGE = web.AppKey("dashboard_page", Page)
