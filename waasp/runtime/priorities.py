"""Task priorities: 0 (the best, and the default) to 9, lower runs first (Celery's Redis
convention). Each level other than 0 has a stream of its own in the queue's slot
(``keys.QueueKeys.stream_at``); priority 0 is the queue's own stream, so a queue that never
uses another level works exactly as one without priorities."""

from __future__ import annotations

from typing import Any

from waasp.runtime.errors import ConfigurationError

DEFAULT_PRIORITY = 0
MAX_PRIORITY = 9
LEVELS = tuple(range(DEFAULT_PRIORITY, MAX_PRIORITY + 1))


class PriorityError(ConfigurationError, ValueError):
    """A priority outside 0..9."""


def check_priority(value: Any) -> int:
    """Return ``value`` if it is a valid priority (an int 0..9; a bool is not one), else raise
    TypeError (not an int) or PriorityError, a ValueError (out of range)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"priority must be an int from {DEFAULT_PRIORITY} to {MAX_PRIORITY}, "
            f"not {type(value).__name__} {value!r}"
        )
    if not DEFAULT_PRIORITY <= value <= MAX_PRIORITY:
        raise PriorityError(
            f"priority {value} is out of range: use {DEFAULT_PRIORITY} (the best, the default) "
            f"to {MAX_PRIORITY}"
        )
    return value
