"""``runtime.conf``: settings under Celery's names, plus the runtime's own."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from waasp.runtime.errors import ConfigurationError


@dataclass(slots=True)
class Config:
    """The runtime's settings; change them with ``update`` before workers start."""

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str | None = None  # None: the broker's server, db 1
    key_prefix: str = "waasp"
    # Celery's names
    task_serializer: str = "json"
    result_serializer: str = "json"
    accept_content: list[str] = field(default_factory=lambda: ["json"])
    timezone: str = "UTC"
    enable_utc: bool = True
    task_track_started: bool = False
    task_acks_late: bool = True
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
    # the runtime's own
    broker_visibility_timeout: float = 30.0
    broker_max_deliveries: int = 5
    worker_shutdown_timeout: float = 30.0
    worker_heartbeat_interval: float = 2.0
    worker_send_task_events: bool = True  # Celery's name; False records no events
    events_max_length: int = 10_000
    events_ttl: float = 3600.0
    events_failures_max_length: int = 500
    events_counters_ttl: float = 7 * 86400.0

    def update(self, other: Mapping[str, Any] | None = None, **options: Any) -> None:
        """Set options by name, rejecting unknown names and unsupported values."""
        merged = {**(other or {}), **options}
        known = {f.name for f in fields(self)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigurationError(f"unknown setting(s): {', '.join(unknown)}")
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
        for name in ("task_serializer", "result_serializer"):
            if getattr(self, name) != "json":
                raise ConfigurationError(f"{name}: only 'json' is supported (never pickle)")
        if list(self.accept_content) != ["json"]:
            raise ConfigurationError("accept_content: only ['json'] is supported")
        if not self.task_acks_late:
            raise ConfigurationError(
                "task_acks_late=False is not supported: tasks are always acknowledged "
                "after their result is stored"
            )
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
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigurationError(f"{name} must be >= 1")
        if not self.key_prefix or any(c in self.key_prefix for c in "{} "):
            raise ConfigurationError("key_prefix must be non-empty, without braces or spaces")


def _env_float(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ConfigurationError(f"{name}={raw!r} must be > 0")
    return value


def config_from_env(env_prefix: str, environ: Mapping[str, str] | None = None) -> Config:
    """Build a Config from ``<PREFIX>_REDIS_URL``, ``_RESULT_URL``, ``_KEY_PREFIX``,
    ``_VISIBILITY_TIMEOUT`` (e.g. ``WAASP_REDIS_URL`` for a runtime named ``waasp``)."""
    env = os.environ if environ is None else environ
    p = env_prefix.upper()
    config = Config()
    if url := env.get(f"{p}_REDIS_URL"):
        config.broker_url = url
    if url := env.get(f"{p}_RESULT_URL"):
        config.result_backend = url
    if prefix := env.get(f"{p}_KEY_PREFIX"):
        config.key_prefix = prefix
    if (timeout := _env_float(env, f"{p}_VISIBILITY_TIMEOUT")) is not None:
        config.broker_visibility_timeout = timeout
    config.validate()
    return config
