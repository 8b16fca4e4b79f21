"""The runtime's dashboard: a web page, a JSON monitoring API and Prometheus' /metrics for
any application's ``Runtime``.

Standalone: ``python -m waasp.runtime dashboard -A module:runtime`` (``create_app``). Inside
an aiohttp application of one's own (as the WAASP API does): ``mount`` the runtime, add
``MONITOR_ROUTES`` and ``PAGE_ROUTES`` to the route table, and answer ``HttpError`` as JSON.

Needs aiohttp and prometheus-client (``pip install 'waasp-runtime[dashboard]'``); importing
``waasp.runtime`` never imports this package. A public submodule: applications may import it.
"""

from waasp.runtime.dashboard.app import create_app, mount
from waasp.runtime.dashboard.auth import (
    TOKEN_COOKIE,
    Handler,
    check_token,
    presented_token,
    require_token,
    unauthenticated,
)
from waasp.runtime.dashboard.compose import Pages
from waasp.runtime.dashboard.errors import HttpError, invalid
from waasp.runtime.dashboard.keys import MONITOR, PAGE, TOKEN
from waasp.runtime.dashboard.metrics import RuntimeCollector, RuntimeMetrics
from waasp.runtime.dashboard.monitor import QUEUE_TASKS_LIMIT_DEFAULT, QUEUE_TASKS_LIMIT_MAX
from waasp.runtime.dashboard.params import check_query, error_response, json_response
from waasp.runtime.dashboard.routes import (
    MONITOR_ROUTES,
    PAGE_ROUTES,
    QUERY_PARAMETERS,
    Routes,
    add_routes,
)
from waasp.runtime.dashboard.service import MonitoringService, RuntimeSnapshot

__all__ = [
    "MONITOR",
    "MONITOR_ROUTES",
    "PAGE",
    "PAGE_ROUTES",
    "QUERY_PARAMETERS",
    "QUEUE_TASKS_LIMIT_DEFAULT",
    "QUEUE_TASKS_LIMIT_MAX",
    "TOKEN",
    "TOKEN_COOKIE",
    "Handler",
    "HttpError",
    "MonitoringService",
    "Pages",
    "Routes",
    "RuntimeCollector",
    "RuntimeMetrics",
    "RuntimeSnapshot",
    "add_routes",
    "check_query",
    "check_token",
    "create_app",
    "error_response",
    "invalid",
    "json_response",
    "mount",
    "presented_token",
    "require_token",
    "unauthenticated",
]
