"""Errors that exist only at the HTTP layer (auth, content type, body size): the dashboard's
``HttpError``, shared so one middleware answers both."""

from __future__ import annotations

from waasp.runtime.dashboard import HttpError

__all__ = ["HttpError"]
