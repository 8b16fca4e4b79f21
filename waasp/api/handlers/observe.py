"""/metrics (Prometheus text): this process's metrics and the runtime's (the dashboard, its
page and its files are the runtime's: waasp.runtime.dashboard)."""

from __future__ import annotations

from aiohttp import web

from waasp.api.auth import check_token
from waasp.api.keys import METRICS, MONITOR, SETTINGS


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: this process's metrics and the runtime's, read from Redis now; the
    token is required unless WAASP_METRICS_PUBLIC is set (queue names, task names and
    traffic figures are an operator's business)."""
    if not request.app[SETTINGS].metrics_public:
        check_token(request)
    monitor = request.app.get(MONITOR)
    snapshot = await monitor.snapshot() if monitor is not None else None
    body, content_type = request.app[METRICS].render(snapshot, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})
