"""Settings read once from the environment (every WAASP_* variable), as one frozen object.

The variables the task runtime reads too (``WAASP_REDIS_URL``, ``WAASP_RESULT_URL``,
``WAASP_KEY_PREFIX``, ``WAASP_VISIBILITY_TIMEOUT``) go through the runtime's own parsers, and
``runtime_config`` hands them on: one reading of each variable, whoever starts the runtime.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from waasp.errors import SettingsError
from waasp.runtime import Config, env, logs

T = TypeVar("T")

LOG_FORMATS = frozenset(logs.FORMATS)
LOG_LEVELS = frozenset(logs.LEVELS)
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
HTTP_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything WAASP is configured with.

    A URL left as None means "use the embedded server", which ``waasp up`` resolves.
    """

    redis_url: str | None = None
    result_url: str | None = None
    database_url: str | None = None
    api_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".waasp")
    notify_webhook_url: str | None = None
    visibility_timeout: float = 30.0
    min_replicas: int = 0
    key_prefix: str = "waasp"
    audit_retention_days: int = 90
    log_format: str = "json"
    log_level: str = "info"
    notify_window: float = 60.0
    notify_retry_delay: float = 60.0
    notify_max_retries: int = 3
    worker_concurrency: int = 8
    metrics_public: bool = False
    # The gate's defences: check-route access, its rate per address, the notification cap.
    check_token: str | None = field(default=None, repr=False)
    check_rate: float = 20.0
    check_burst: int = 40
    notify_global_max: int = 20
    webhook_rate_limit: str = "10/s"  # webhook posts, shared by every worker
    # HTTP limits a normal client never meets (seconds, counts, bytes).
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_keepalive_timeout: float = 30.0
    http_max_requests: int = 1000
    http_max_connections: int = 1000
    http_max_header_bytes: int = 32768

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, stderr_isatty: bool | None = None
    ) -> Settings:
        """Build the settings from ``environ`` (default ``os.environ``).

        Raises SettingsError naming the first variable whose value is unusable.
        An empty variable counts as unset, as compose files often leave them.
        """
        source = os.environ if environ is None else environ
        tty = sys.stderr.isatty() if stderr_isatty is None else stderr_isatty

        def get(name: str, parse: Callable[[str], T], default: T) -> T:
            value = env.read(source, name, parse, SettingsError)
            return default if value is None else value

        return cls(
            redis_url=get("WAASP_REDIS_URL", env.redis_url, None),
            result_url=get("WAASP_RESULT_URL", env.redis_url, None),
            database_url=get("WAASP_DATABASE_URL", _postgres_url, None),
            api_token=get("WAASP_API_TOKEN", _token, None),
            host=get("WAASP_HOST", _plain, "127.0.0.1"),
            port=get("WAASP_PORT", parse_port, 8000),
            data_dir=get("WAASP_DATA_DIR", Path, Path(".waasp")),
            notify_webhook_url=get("WAASP_NOTIFY_WEBHOOK_URL", env.url(HTTP_SCHEMES), None),
            visibility_timeout=get("WAASP_VISIBILITY_TIMEOUT", env.positive_seconds, 30.0),
            min_replicas=get("WAASP_MIN_REPLICAS", env.replica_count, 0),
            key_prefix=get("WAASP_KEY_PREFIX", env.key_prefix, "waasp"),
            audit_retention_days=get("WAASP_AUDIT_RETENTION_DAYS", _positive_int, 90),
            log_format=get("WAASP_LOG_FORMAT", _choice(LOG_FORMATS), "console" if tty else "json"),
            log_level=get("WAASP_LOG_LEVEL", _choice(LOG_LEVELS), "info"),
            notify_window=get("WAASP_NOTIFY_WINDOW", env.positive_seconds, 60.0),
            notify_retry_delay=get("WAASP_NOTIFY_RETRY_DELAY", env.positive_seconds, 60.0),
            notify_max_retries=get("WAASP_NOTIFY_MAX_RETRIES", _positive_int, 3),
            worker_concurrency=get("WAASP_WORKER_CONCURRENCY", _positive_int, 8),
            metrics_public=get("WAASP_METRICS_PUBLIC", _flag, False),
            check_token=get("WAASP_CHECK_TOKEN", _token, None),
            check_rate=get("WAASP_CHECK_RATE", env.positive_number, 20.0),
            check_burst=get("WAASP_CHECK_BURST", _positive_int, 40),
            notify_global_max=get("WAASP_NOTIFY_GLOBAL_MAX", _positive_int, 20),
            webhook_rate_limit=get("WAASP_WEBHOOK_RATE_LIMIT", env.rate_limit, "10/s"),
            http_header_timeout=get("WAASP_HTTP_HEADER_TIMEOUT", env.positive_seconds, 10.0),
            http_body_timeout=get("WAASP_HTTP_BODY_TIMEOUT", env.positive_seconds, 30.0),
            http_keepalive_timeout=get("WAASP_HTTP_KEEPALIVE_TIMEOUT", env.positive_seconds, 30.0),
            http_max_requests=get("WAASP_HTTP_MAX_REQUESTS", _positive_int, 1000),
            http_max_connections=get("WAASP_HTTP_MAX_CONNECTIONS", _positive_int, 1000),
            http_max_header_bytes=get("WAASP_HTTP_MAX_HEADER_BYTES", _positive_int, 32768),
        )

    def runtime_config(self) -> Config:
        """The task runtime's Config for these settings: where Redis is, the key prefix, the
        visibility timeout (resolve embedded servers' URLs first; None is the default Redis)."""
        config = Config(
            result_backend=self.result_url,
            key_prefix=self.key_prefix,
            broker_visibility_timeout=self.visibility_timeout,
            broker_min_replicas=self.min_replicas,
        )
        if self.redis_url is not None:
            config.broker_url = self.redis_url
        config.validate()
        return config


_postgres_url = env.url(POSTGRES_SCHEMES, host_required=False)  # no host: the local socket


def _token(value: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


def _plain(value: str) -> str:
    if any(c.isspace() for c in value):
        raise ValueError(f"must not contain whitespace, got {value!r}")
    return value


def parse_port(value: str) -> int:
    """A TCP port number (0 lets the system choose)."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"must be an integer from 0 to 65535, got {value!r}")
    return port


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(f"must be an integer greater than 0, got {value!r}")
    return number


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered not in _TRUE | _FALSE:
        raise ValueError(f"must be 1/true/yes/on or 0/false/no/off, got {value!r}")
    return lowered in _TRUE


def _choice(choices: frozenset[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise ValueError(f"must be one of {', '.join(sorted(choices))}, got {value!r}")
        return lowered

    return parse
