"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources

from aiohttp import web

from waasp.api.connections import connection_middleware
from waasp.api.jsonio import MAX_BODY_BYTES
from waasp.api.keys import (
    CHECK_TOKEN,
    DATABASE,
    METRICS,
    READINESS_PROBES,
    RUNTIME,
    SERVICE,
    SETTINGS,
    THROTTLE,
)
from waasp.api.metrics import Metrics
from waasp.api.middleware import add_default_headers, error_middleware, metrics_middleware
from waasp.api.query import query_middleware
from waasp.api.readiness import ReadinessProbe, redis_probe
from waasp.api.routes import setup_routes
from waasp.api.throttle import CheckThrottle
from waasp.db.pool import Database
from waasp.errors import SettingsError
from waasp.notify import TaskNotifier
from waasp.runtime import Runtime, Task
from waasp.runtime.dashboard import Pages, mount
from waasp.service import BlockedSenderNotifier, WhitelistService
from waasp.settings import Settings

# The WAASP API's own dashboard views, beside the runtime's (waasp.runtime.dashboard).
DASHBOARD_PAGES = Pages(
    title="WAASP",
    login_hint=(
        "Enter the API token (<code>WAASP_API_TOKEN</code>; <code>waasp up</code> prints where "
        "it is stored)."
    ),
    views=("decisions", "contacts", "audit"),
    static=resources.files("waasp.api").joinpath("static"),
)


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    notify: Task | None = None,
    notifier: BlockedSenderNotifier | None = None,
    readiness_probes: Iterable[ReadinessProbe] = (),
    database: Database | None = None,
    metrics: Metrics | None = None,
) -> web.Application:
    """Build the API application.

    ``settings.database_url`` and ``settings.api_token`` must be resolved (``waasp serve`` and
    ``waasp up`` do that). A ``database`` passed in is owned by the caller, who opens and
    closes it; otherwise the app creates one and opens/closes it with its own lifetime.

    ``runtime`` is the task runtime (owned by the caller, who closes it): the monitoring
    routes, /metrics and the dashboard inspect it, /readyz waits for its broker, and the check
    route's per-address rate limit keeps its token buckets there; without one those routes
    answer 503 and checks are not rate-limited. ``notify`` is the task, registered on
    ``runtime``, that each blocked check is handed to (in batches, never waited for; enqueues
    that fail are counted in /metrics); ``notifier`` is any other listener to blocked checks.
    ``readiness_probes`` join PostgreSQL's in /readyz. ``metrics`` lets the caller count into
    the app's metrics; by default the app makes its own.
    """
    if not settings.api_token:
        raise SettingsError("WAASP_API_TOKEN", "the API needs a token (waasp serve creates one)")
    if notify is not None and (runtime is None or notifier is not None):
        raise ValueError("notify needs the runtime it is registered on, and no other notifier")
    owns_database = database is None
    if database is None:
        if settings.database_url is None:
            raise SettingsError("WAASP_DATABASE_URL", "the API needs a PostgreSQL URL")
        database = Database(settings.database_url)
    app = web.Application(
        middlewares=[metrics_middleware, error_middleware, connection_middleware, query_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app.on_response_prepare.append(add_default_headers)
    app[SETTINGS] = settings
    mount(app, runtime, settings.api_token, DASHBOARD_PAGES)  # the token, the page, MONITOR
    app[CHECK_TOKEN] = (settings.check_token or "").encode("utf-8")
    app[DATABASE] = database
    app[METRICS] = metrics if metrics is not None else Metrics()
    app[READINESS_PROBES] = [ReadinessProbe("postgresql", database.ping)]
    task_notifier = _attach_runtime(app, runtime, notify) if runtime is not None else None
    app[READINESS_PROBES].extend(readiness_probes)
    app[SERVICE] = WhitelistService(database, task_notifier or notifier)
    app.cleanup_ctx.append(_lifetime(owns_database, task_notifier))
    setup_routes(app)
    return app


def _attach_runtime(
    app: web.Application, runtime: Runtime, notify: Task | None
) -> TaskNotifier | None:
    """Inspect ``runtime``, wait for its broker in /readyz, rate-limit the check route in its
    token buckets, hand blocked checks to ``notify``."""
    app[RUNTIME] = runtime
    app[METRICS].runtime.configured = True
    app[READINESS_PROBES].append(redis_probe(runtime))
    app[THROTTLE] = CheckThrottle(
        runtime.rate_limiter(), app[SETTINGS].check_rate, app[SETTINGS].check_burst
    )
    if notify is None:
        return None
    return TaskNotifier(runtime, notify, on_failure=app[METRICS].enqueue_failed)


def _lifetime(
    owns_database: bool, notifier: TaskNotifier | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if owns_database:
            await app[DATABASE].open()
        yield
        if notifier is not None:
            await notifier.aclose()
        if owns_database:
            await app[DATABASE].close()

    return ctx
