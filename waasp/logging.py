"""structlog set up once per process: JSON through orjson, or a console renderer on a TTY."""

from __future__ import annotations

import logging as stdlib_logging
import sys
from typing import Any

import orjson
import structlog
from aiohttp.http_exceptions import HttpProcessingError

from waasp.log_tracebacks import console_renderer, dict_tracebacks

LEVELS = {
    "debug": stdlib_logging.DEBUG,
    "info": stdlib_logging.INFO,
    "warning": stdlib_logging.WARNING,
    "error": stdlib_logging.ERROR,
    "critical": stdlib_logging.CRITICAL,
}


class ClientErrorFilter(stdlib_logging.Filter):
    """Log aiohttp's refusals of malformed requests as one warning line, not a traceback.

    They are the client's fault (a 400 was sent), so a traceback would only alarm operators.
    """

    def filter(self, record: stdlib_logging.LogRecord) -> bool:
        """Rewrite a malformed-request record in place; keep every record."""
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = stdlib_logging.WARNING, "WARNING"
            record.msg = f"malformed request refused: {error.message}"
            record.args = ()
        return True


_CLIENT_ERROR_FILTER = ClientErrorFilter()


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
        processors = [*shared, console_renderer()]
        factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        processors = [
            *shared,
            dict_tracebacks,
            structlog.processors.JSONRenderer(serializer=_orjson_dumps),
        ]
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # Libraries (aiohttp, asyncpg, asyncio) log through the stdlib: same stream, same level.
    stdlib_logging.basicConfig(
        stream=sys.stderr, level=level, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    server_logger = stdlib_logging.getLogger("aiohttp.server")
    if _CLIENT_ERROR_FILTER not in server_logger.filters:
        server_logger.addFilter(_CLIENT_ERROR_FILTER)
