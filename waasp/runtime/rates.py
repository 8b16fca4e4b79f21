"""Rate strings in Celery's syntax: ``"20/s"``, ``"10/m"``, ``"3/h"``, or a number alone (per
second). A pure parser: the buckets that enforce them live in the broker."""

from __future__ import annotations

import math
import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([smh]))?\s*$")


def parse_rate(value: object) -> float:
    """Tasks per second that ``value`` allows; ValueError naming the value if it is not a
    positive count per ``s``, ``m`` or ``h`` (``"100/m"``, ``"20/s"``, ``5``)."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        match = _RATE.match(repr(value))
    count = float(match.group(1)) if match else math.nan
    if match is None or not (math.isfinite(count) and count > 0):
        raise ValueError(
            f"rate limit must be a count > 0 per s, m or h (like '10/s', '100/m', '3/h'), "
            f"got {value!r}"
        )
    return count / _UNITS[match.group(2) or "s"]
