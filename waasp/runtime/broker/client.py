"""Redis clients as the runtime configures them."""

from __future__ import annotations

from typing import Any

import redis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

try:  # newer redis-py only
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # pragma: no cover - older redis-py has no maintenance notifications
    MaintNotificationsConfig = None


# A worker's reads block for at most a second, so a reply slower than this means a stalled
# connection. Producers get no per-read timeout: it costs ~15% of enqueue throughput in
# redis-py, and callers that must not wait (the API) bound their own calls.
WORKER_SOCKET_TIMEOUT = 10.0


def _client_options() -> dict[str, Any]:
    options: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_keepalive": True}
    if MaintNotificationsConfig is not None:
        # Off (we serve no Redis Enterprise maintenance): at redis-py's "auto", its pool skips
        # the check that replaces a pooled connection the server has closed, so after a Redis
        # restart the first command on each stale connection would fail.
        options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    return options


def connect(url: str, socket_timeout: float | None = None) -> Redis:
    """A client that fails fast on connect and, with ``socket_timeout``, on a stalled read.

    A pooled connection the server has closed (it restarted) is replaced when taken from the
    pool, before anything is sent on it. Commands are not resent on a connection that breaks
    under them: a resent XADD could enqueue twice. The worker's loops retry with backoff; a
    producer sees the error (its enqueue did not return).
    """
    return Redis.from_url(
        url, socket_timeout=socket_timeout, health_check_interval=15, **_client_options()
    )


def connect_blocking(url: str, socket_timeout: float | None = None) -> redis.Redis:
    """A blocking client, as ``connect`` configures it, for a thread beside the event loop."""
    return redis.Redis.from_url(
        url, socket_timeout=socket_timeout, health_check_interval=15, **_client_options()
    )


def connect_pubsub(url: str, socket_timeout: float | None = None) -> Redis:
    """A client for the result waiters' pub/sub connection, which redis-py never reconnects
    by itself: ``ResultBackend`` reconnects it from its listener alone (see there)."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        # The listener pings an idle connection itself, under its lock: redis-py's own
        # health check could reconnect from another task.
        health_check_interval=0,
        retry=Retry(NoBackoff(), 0, supported_errors=()),
        **_client_options(),
    )
