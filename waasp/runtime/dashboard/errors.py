"""The one error of the dashboard's HTTP layer: a status and a JSON body, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HttpError(Exception):
    """A client error with its status, answered as ``{"error": message, "details": details}``
    by the error middleware (the dashboard's, or the host application's); ``close`` makes it
    the connection's last answer."""

    def __init__(
        self,
        status: int,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        self.close = close


def invalid(field: str, message: str, **extra: Any) -> HttpError:
    """The 400 for a bad parameter: ``"FIELD: message"``, with ``details.field`` naming it."""
    return HttpError(400, f"{field}: {message}", {"field": field, **extra})
