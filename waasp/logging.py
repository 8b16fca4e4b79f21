"""structlog set up once per process: JSON through orjson, or a console renderer on a TTY."""

from __future__ import annotations

import logging as stdlib_logging
import sys
from typing import Any

import orjson
import structlog

LEVELS = {
    "debug": stdlib_logging.DEBUG,
    "info": stdlib_logging.INFO,
    "warning": stdlib_logging.WARNING,
    "error": stdlib_logging.ERROR,
    "critical": stdlib_logging.CRITICAL,
}


def _orjson_dumps(event: Any, **_kw: Any) -> bytes:
    # default=str keeps a log call from failing on a value orjson cannot encode.
    return orjson.dumps(event, default=str)


def configure_logging(log_format: str = "json", log_level: str = "info") -> None:
    """Configure structlog (and the stdlib root logger it shares stderr with).

    Logs go to stderr so a command's stdout stays free for its output.
    """
    level = LEVELS[log_level]
    shared: list[Any] = [
        # contextvars first, so request_id / task_id can be overridden by the call site.
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if log_format == "console":
        processors = [*shared, structlog.dev.ConsoleRenderer()]
        factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        processors = [
            *shared,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(serializer=_orjson_dumps),
        ]
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # Libraries (aiohttp, asyncio) log through the stdlib: keep them on stderr at our level.
    stdlib_logging.basicConfig(
        stream=sys.stderr, level=level, format="%(levelname)s %(name)s %(message)s", force=True
    )
