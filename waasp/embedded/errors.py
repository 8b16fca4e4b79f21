"""The one exception the embedded servers raise on purpose."""

from __future__ import annotations


class EmbeddedServerError(Exception):
    """An embedded server is missing, cannot start, or does not answer.

    The message says which server, why, and ends with the last lines of its log when
    there is one, so that a user sees the server's own complaint without digging.
    """
