"""Errors that exist only at the HTTP layer (auth, content type, body size)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HttpError(Exception):
    """A client error with its status, answered as JSON by the error middleware; ``close``
    makes it the connection's last answer."""

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
