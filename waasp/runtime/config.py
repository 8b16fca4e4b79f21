"""``runtime.conf``: settings under Celery's names, plus the runtime's own."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from waasp.runtime import env
from waasp.runtime.errors import ConfigurationError
from waasp.runtime.keys import check_queue_name
from waasp.runtime.rates import parse_rate

# Celery settings that name what the runtime always does: ``update`` takes them, so a Celery
# configuration carries over, checks the value is that one behaviour, and stores nothing.
_FIXED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "task_serializer": (lambda v: v == "json", "only 'json' is supported (never pickle)"),
    "result_serializer": (lambda v: v == "json", "only 'json' is supported (never pickle)"),
    "accept_content": (
        lambda v: isinstance(v, list | tuple | set | frozenset) and list(v) == ["json"],
        "only ['json'] is supported (never pickle)",
    ),
    "task_acks_late": (
        lambda v: v is True,
        "only True is supported: tasks are always acknowledged after their result is stored",
    ),
    "enable_utc": (
        lambda v: v is True,
        "only True is supported: times are kept in UTC (crontab follows the timezone setting)",
    ),
}


@dataclass(slots=True)
class Config:
    """The runtime's settings; change them with ``update`` before workers start."""

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str | None = None  # None: the broker's server, db 1
    key_prefix: str = "waasp"
    # Celery's names
    timezone: str = "UTC"
    task_track_started: bool = False
    task_ignore_result: bool = False
    worker_prefetch_multiplier: int = 4
    worker_concurrency: int = 8
    result_expires: float = 86400.0
    task_default_retry_delay: float = 180.0
    task_max_retries: int | None = 3
    task_default_queue: str = "default"
    task_routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_time_limit: float | None = None
    task_soft_time_limit: float | None = None
    beat_schedule: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_always_eager: bool = False  # sends run the task in this process (tests)
    task_eager_propagates: bool = False  # an eager send raises the task's failure
    # the runtime's own
    broker_visibility_timeout: float = 30.0
    broker_max_deliveries: int = 5
    # Replicas that must acknowledge each enqueue and settle (WAIT) before it returns: 1 or
    # more keeps what was acknowledged through a failover (docs/operations.md).
    broker_min_replicas: int = 0
    worker_shutdown_timeout: float = 30.0
    worker_heartbeat_interval: float = 2.0
    worker_send_task_events: bool = True  # Celery's name; False records no events
    events_max_length: int = 10_000
    events_ttl: float = 3600.0
    events_failures_max_length: int = 500
    events_counters_ttl: float = 7 * 86400.0
    dlq_max_len: int = 100_000  # dead letters kept per queue; the oldest beyond are trimmed
    # queue -> rate ("50/s", "100/m"): starts of its tasks per unit, shared by every worker
    task_queue_rate_limits: dict[str, str | float] = field(default_factory=dict)

    def update(self, other: Mapping[str, Any] | None = None, **options: Any) -> None:
        """Set options by name, rejecting unknown names and unsupported values."""
        merged = {**(other or {}), **options}
        known = {f.name for f in fields(self)}
        unknown = sorted(set(merged) - known - set(_FIXED))
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(unknown)}")
        for name, (supported, reason) in _FIXED.items():
            if name in merged and not supported(merged.pop(name)):
                raise ConfigurationError(f"{name}: {reason}")
        previous = {name: getattr(self, name) for name in merged}
        for name, value in merged.items():
            setattr(self, name, value)
        try:
            self.validate()
        except ConfigurationError:
            for name, value in previous.items():  # a rejected update changes nothing
                setattr(self, name, value)
            raise

    def validate(self) -> None:
        """Raise ConfigurationError naming the first setting that cannot work."""
        positive = (
            "broker_visibility_timeout",
            "result_expires",
            "worker_shutdown_timeout",
            "worker_heartbeat_interval",
            "events_ttl",
            "events_counters_ttl",
        )
        for name in positive:
            if not float(getattr(self, name)) > 0:
                raise ConfigurationError(f"{name} must be > 0")
        for name in (
            "worker_prefetch_multiplier",
            "worker_concurrency",
            "broker_max_deliveries",
            "events_max_length",
            "events_failures_max_length",
            "dlq_max_len",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigurationError(f"{name} must be >= 1")
        for pattern, route in self.task_routes.items():
            # Celery routes can name another broker; here one Runtime has one broker (and a
            # cluster URL spreads queues over masters), so such a route would be ignored.
            if {"broker_url", "broker"} & set(route):
                raise ConfigurationError(
                    f"task_routes[{pattern!r}]: a route cannot name a broker (one Runtime has "
                    "one broker: use another Runtime, or a cluster URL)"
                )
        if int(self.broker_min_replicas) < 0:
            raise ConfigurationError("broker_min_replicas must be >= 0")
        if not self.key_prefix or any(c in self.key_prefix for c in "{} "):
            raise ConfigurationError("key_prefix must be non-empty, without braces or spaces")
        self.queue_rates()

    def queue_rates(self) -> dict[str, float]:
        """``task_queue_rate_limits`` as tasks per second per queue; ConfigurationError
        naming the first bad queue name or rate."""
        if not isinstance(self.task_queue_rate_limits, Mapping):
            raise ConfigurationError("task_queue_rate_limits must be a dict of queue -> rate")
        rates: dict[str, float] = {}
        for queue, rate in self.task_queue_rate_limits.items():
            try:
                rates[check_queue_name(queue)] = parse_rate(rate)
            except ValueError as exc:
                raise ConfigurationError(f"task_queue_rate_limits[{queue!r}]: {exc}") from None
        return rates


def config_from_env(env_prefix: str, environ: Mapping[str, str] | None = None) -> Config:
    """Build a Config from ``<PREFIX>_REDIS_URL``, ``_RESULT_URL``, ``_KEY_PREFIX``,
    ``_VISIBILITY_TIMEOUT``, ``_MIN_REPLICAS`` (e.g. ``WAASP_REDIS_URL`` for a runtime named
    ``waasp``).

    A blank variable counts as unset; a bad one raises ConfigurationError naming it.
    """
    environ = os.environ if environ is None else environ
    p = env_prefix.upper()
    config = Config()
    if (url := env.read(environ, f"{p}_REDIS_URL", env.redis_url)) is not None:
        config.broker_url = url
    config.result_backend = env.read(environ, f"{p}_RESULT_URL", env.redis_url)
    if (prefix := env.read(environ, f"{p}_KEY_PREFIX", env.key_prefix)) is not None:
        config.key_prefix = prefix
    timeout = env.read(environ, f"{p}_VISIBILITY_TIMEOUT", env.positive_seconds)
    if timeout is not None:
        config.broker_visibility_timeout = timeout
    if (replicas := env.read(environ, f"{p}_MIN_REPLICAS", env.replica_count)) is not None:
        config.broker_min_replicas = replicas
    config.validate()
    return config
