"""structlog set up once per process, by a command line (a library never configures logging).

One shape for every process, whichever command started it: bound context (``task_id``,
``request_id``) first, then the level and an ISO 8601 UTC timestamp; JSON lines through
orjson, or a console renderer for a person at a TTY. Exceptions are rendered without the
local variables of their frames: those hold URLs with passwords, tokens and message bodies.
The stdlib loggers (redis, asyncio, aiohttp, asyncpg) go through the same renderer to the
same stream, so a log shipper reads one format.

A public submodule: an application's command line may import it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import Processor

FORMATS = ("json", "console")
LEVELS = ("debug", "info", "warning", "error", "critical")


def _json_bytes(event: Any, **_kw: Any) -> bytes:
    # default=str keeps a log call from failing on a value orjson cannot encode.
    return orjson.dumps(event, default=str)


def _json_text(event: Any, **_kw: Any) -> str:
    return _json_bytes(event).decode()


def _renderers(fmt: str, serializer: Any) -> list[Processor]:
    if fmt == "console":
        return [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    return [
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
        structlog.processors.JSONRenderer(serializer=serializer),
    ]


def configure_logging(fmt: str | None = None, level: str = "info") -> None:
    """Log to stderr, so a command's stdout stays free for its output.

    ``fmt`` is ``json`` or ``console`` (default: console on a TTY, JSON otherwise); ``level``
    one of LEVELS.
    """
    fmt = fmt or ("console" if sys.stderr.isatty() else "json")
    threshold = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,  # first, so a call site can override it
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            *_renderers(fmt, _json_bytes),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer)
        if fmt == "json"
        else structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                ProcessorFormatter.remove_processors_meta,
                *_renderers(fmt, _json_text),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(threshold)
