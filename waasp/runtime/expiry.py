"""``expires``: the deadline after which a task that has not started is not run.

``apply_async(expires=)`` takes seconds from now (a number or a ``timedelta``) or a moment (a
``datetime``; a naive one is local time, as for ``eta``); ``@task(expires=)`` and a beat
entry's ``options={"expires": …}`` take seconds. The message carries the absolute deadline
(epoch seconds, this process's clock); a worker compares it with the Redis server's clock when
the task is about to start.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

Expires = float | int | timedelta | datetime


def expires_seconds(value: object, what: str = "expires") -> float | None:
    """``value`` as a number of seconds > 0 (None stays None); raise TypeError for anything
    but a number or a ``timedelta``, ValueError for one that is not finite and positive."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{what} must be seconds (a number or a timedelta), not {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a positive, finite number of seconds, not {value!r}")
    return seconds


def deadline(value: object, now: float) -> float | None:
    """The absolute deadline (epoch seconds) ``expires=value`` means when sent at ``now``."""
    if isinstance(value, datetime):
        return value.timestamp()
    seconds = expires_seconds(value)
    return None if seconds is None else now + seconds
