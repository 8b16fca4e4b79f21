"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from aiohttp import web

from waasp.api.connections import connection_middleware
from waasp.api.jsonio import MAX_BODY_BYTES
from waasp.api.keys import (
    API_TOKEN,
    CHECK_TOKEN,
    DATABASE,
    METRICS,
    MONITOR,
    READINESS_PROBES,
    RUNTIME,
    SERVICE,
    SETTINGS,
    THROTTLE,
)
from waasp.api.metrics import Metrics
from waasp.api.middleware import add_default_headers, error_middleware, metrics_middleware
from waasp.api.query import query_middleware
from waasp.api.readiness import ReadinessProbe
from waasp.api.routes import setup_routes
from waasp.api.throttle import CheckThrottle
from waasp.db.pool import Database
from waasp.errors import SettingsError
from waasp.monitoring import MonitoringService
from waasp.runtime import Runtime
from waasp.service import BlockedSenderNotifier, WhitelistService
from waasp.settings import Settings


def create_app(
    settings: Settings,
    *,
    notifier: BlockedSenderNotifier | None = None,
    readiness_probes: Iterable[ReadinessProbe] = (),
    database: Database | None = None,
    runtime: Runtime | None = None,
    metrics: Metrics | None = None,
) -> web.Application:
    """Build the API application.

    ``settings.database_url`` and ``settings.api_token`` must be resolved (``waasp serve`` and
    ``waasp up`` do that). A ``database`` passed in is owned by the caller, who opens and
    closes it; otherwise the app creates one and opens/closes it with its own lifetime.
    ``notifier`` hears of blocked checks; ``readiness_probes`` join PostgreSQL's in /readyz.
    ``runtime`` is the task runtime the monitoring routes, /metrics and the dashboard
    inspect (owned by the caller, who closes it); without one those routes answer 503.
    ``metrics`` lets the caller count into the app's metrics (e.g. the notifier's enqueue
    failures); by default the app makes its own.
    """
    if not settings.api_token:
        raise SettingsError("WAASP_API_TOKEN", "the API needs a token (waasp serve creates one)")
    if database is None:
        if settings.database_url is None:
            raise SettingsError("WAASP_DATABASE_URL", "the API needs a PostgreSQL URL")
        database = Database(settings.database_url)
        owned = True
    else:
        owned = False
    app = web.Application(
        middlewares=[metrics_middleware, error_middleware, connection_middleware, query_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app.on_response_prepare.append(add_default_headers)
    app[SETTINGS] = settings
    app[API_TOKEN] = settings.api_token.encode("utf-8")
    app[CHECK_TOKEN] = (settings.check_token or "").encode("utf-8")
    app[DATABASE] = database
    app[SERVICE] = WhitelistService(database, notifier)
    app[READINESS_PROBES] = [ReadinessProbe("postgresql", database.ping), *readiness_probes]
    app[METRICS] = metrics if metrics is not None else Metrics()
    if runtime is not None:
        app[RUNTIME] = runtime
        app[MONITOR] = MonitoringService(runtime)
        app[METRICS].runtime.configured = True
        limiter = runtime.rate_limiter()
        app[THROTTLE] = CheckThrottle(limiter, settings.check_rate, settings.check_burst)
    app.cleanup_ctx.append(_lifetime(owned))
    setup_routes(app)
    return app


def _lifetime(owns_database: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if owns_database:
            await app[DATABASE].open()
        yield
        await app[SERVICE].aclose()
        if owns_database:
            await app[DATABASE].close()

    return ctx
