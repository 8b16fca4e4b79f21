"""The app's logging: the runtime's set-up (one shape for every WAASP process), plus what
only an HTTP server needs."""

from __future__ import annotations

import logging as stdlib_logging

from aiohttp.http_exceptions import HttpProcessingError

from waasp.runtime.logs import configure_logging as configure_runtime_logging


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


def configure_logging(log_format: str = "json", log_level: str = "info") -> None:
    """Configure logging as ``waasp.runtime.logs`` does, and quiet malformed requests."""
    configure_runtime_logging(log_format, log_level)
    server_logger = stdlib_logging.getLogger("aiohttp.server")
    if _CLIENT_ERROR_FILTER not in server_logger.filters:
        server_logger.addFilter(_CLIENT_ERROR_FILTER)
