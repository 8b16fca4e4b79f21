"""When beat entries are due: ``crontab``, cron strings and intervals, as instants in UTC.

Pure code (no I/O, no clock): every function takes the instant it reasons about, so every
scheduler, given the Redis server's time, computes the same ticks.

Cron is evaluated on the wall clock of the configured time zone; croniter matches the
fields on naive wall times and this module maps them to UTC across DST changes:

- a wall time that does not exist (spring forward: 01:30 on 2026-03-29 in Europe/London)
  fires once, at the first instant after the gap (02:00 BST), as cronie does;
- a wall time that happens twice (fall back: 01:30 on 2026-10-25) fires once, at its first
  occurrence, unless the hour field is ``*``: an hourly or sub-hourly job runs in both
  passes of the repeated hour, so it runs once per real hour.

Intervals are anchored to the Unix epoch (ticks at whole multiples of the period), so
schedulers that start at different moments agree on every tick.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from waasp.runtime.errors import ConfigurationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Larger than any DST shift in tzdata (the largest is 2 h), so a window this wide around
# an instant holds every wall time that can map near it.
_MARGIN = timedelta(hours=3)
_FIELD = re.compile(r"^[^\s]+$")
_EVERY_HOUR = frozenset({"*", "*/1", "0-23"})


class Schedule(Protocol):
    """When an entry is due. Instants are aware datetimes; results are in UTC."""

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after ``instant``."""

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        """The last tick in ``(after, until]``, or None if there is none."""

    def describe(self) -> str:
        """A short human-readable form."""


def to_ms(instant: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact integer arithmetic)."""
    return (instant - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + ms * _MS


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("schedules need aware datetimes")
    return instant.astimezone(UTC)


# -- crontab ------------------------------------------------------------------------------


def _field(name: str, value: int | str | Iterable[int | str]) -> str:
    if isinstance(value, bool):
        raise ConfigurationError(f"crontab {name}={value!r}: expected a cron field")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        items = list(value)
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            items = sorted(items)
        text = ",".join(str(i) for i in items)
    if not _FIELD.match(text):
        raise ConfigurationError(f"crontab {name}={value!r}: expected a cron field")
    return text


@dataclass(frozen=True, slots=True, init=False)
class crontab:  # lower case: Celery's name, so beat_schedule configs read unchanged
    """A cron schedule with Celery's argument names and defaults.

    ``crontab(hour=3, minute=0)`` is ``0 3 * * *``. Fields take an int, a cron field string
    (``"*/15"``, ``"mon-fri"``) or a collection of ints. As in Celery (unlike cron), a
    restricted ``day_of_month`` and ``day_of_week`` must both match.
    """

    minute: str
    hour: str
    day_of_week: str
    day_of_month: str
    month_of_year: str

    def __init__(
        self,
        minute: int | str | Iterable[int | str] = "*",
        hour: int | str | Iterable[int | str] = "*",
        day_of_week: int | str | Iterable[int | str] = "*",
        day_of_month: int | str | Iterable[int | str] = "*",
        month_of_year: int | str | Iterable[int | str] = "*",
    ) -> None:
        object.__setattr__(self, "minute", _field("minute", minute))
        object.__setattr__(self, "hour", _field("hour", hour))
        object.__setattr__(self, "day_of_week", _field("day_of_week", day_of_week))
        object.__setattr__(self, "day_of_month", _field("day_of_month", day_of_month))
        object.__setattr__(self, "month_of_year", _field("month_of_year", month_of_year))
        _check_cron(self.expression, day_or=False)

    @property
    def expression(self) -> str:
        """The five-field cron expression (minute hour day-of-month month day-of-week)."""
        return (
            f"{self.minute} {self.hour} {self.day_of_month} {self.month_of_year} {self.day_of_week}"
        )


def _check_cron(expression: str, *, day_or: bool) -> None:
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ConfigurationError(
            f"invalid cron expression {expression!r}: expected five fields "
            "(minute hour day-of-month month day-of-week)"
        )
    try:
        croniter(expression, datetime(2000, 1, 1), day_or=day_or).get_next(datetime)
    except (CroniterError, ValueError) as exc:
        raise ConfigurationError(f"invalid cron expression {expression!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Ticks of a cron expression on the wall clock of ``tz``."""

    expression: str
    tz: ZoneInfo
    day_or: bool = True  # cron's rule; Celery's crontab uses False (both day fields match)

    @property
    def _repeat_folds(self) -> bool:
        return self.expression.split()[1] in _EVERY_HOUR

    def describe(self) -> str:
        """The expression, with the time zone unless it is UTC."""
        zone = str(self.tz)
        return self.expression if zone == "UTC" else f"{self.expression} ({zone})"

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after ``instant``."""
        t = _utc(instant)
        if self._steady(t):
            wall = self._naive_next(self._wall(t))
            tick = wall.replace(tzinfo=self.tz).astimezone(UTC)
            if self._steady(tick):
                return tick
        return self._next_near_transition(t)

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        """The last tick in ``(after, until]``: widen a window back from ``until``."""
        after, until = _utc(after), _utc(until)
        if self.next_after(after) > until:
            return None
        span = timedelta(minutes=1)
        while True:
            tick = self.next_after(max(until - span, after))
            if tick <= until:
                while (later := self.next_after(tick)) <= until:
                    tick = later
                return tick
            span *= 2

    # -- internals ------------------------------------------------------------------------

    def _wall(self, t: datetime) -> datetime:
        return t.astimezone(self.tz).replace(tzinfo=None)

    def _naive_next(self, wall: datetime) -> datetime:
        nxt: datetime = croniter(self.expression, wall, day_or=self.day_or).get_next(datetime)
        return nxt

    def _steady(self, t: datetime) -> bool:
        """No UTC offset change within the margin around ``t``."""
        return (t - _MARGIN).astimezone(self.tz).utcoffset() == (t + _MARGIN).astimezone(
            self.tz
        ).utcoffset()

    def _next_near_transition(self, t: datetime) -> datetime:
        # Wall time runs backwards at a fall-back, so scan wall times from a margin before
        # t's, and keep going a margin past the best candidate: nothing later can beat it.
        it = croniter(self.expression, self._wall(t) - _MARGIN, day_or=self.day_or)
        best: datetime | None = None
        best_wall: datetime | None = None
        while True:
            wall: datetime = it.get_next(datetime)
            if best_wall is not None and wall > best_wall + _MARGIN:
                assert best is not None
                return best
            for tick in self._instants(wall):
                if tick > t and (best is None or tick < best):
                    best, best_wall = tick, wall

    def _instants(self, wall: datetime) -> list[datetime]:
        """The UTC instants at which the local wall time ``wall`` fires."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if self._wall(first) != wall:  # in a spring-forward gap: fire when the gap ends
            return [self._transition(second, first)]
        return [first, second] if self._repeat_folds else [first]

    def _transition(self, before: datetime, after: datetime) -> datetime:
        """The first whole second in ``(before, after]`` with ``after``'s UTC offset."""
        target = after.astimezone(self.tz).utcoffset()
        lo, hi = before, after
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            mid = mid.replace(microsecond=0)
            if mid <= lo:
                mid = lo + timedelta(seconds=1)
            if mid.astimezone(self.tz).utcoffset() == target:
                hi = mid
            else:
                lo = mid
        return hi


# -- intervals ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Every ``period_ms`` milliseconds, at whole multiples of the period since the epoch."""

    period_ms: int

    def describe(self) -> str:
        """``every 1h30m``, ``every 500ms``."""
        ms = self.period_ms
        if ms % 1000:
            return f"every {ms}ms"
        seconds, parts = ms // 1000, []
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= size:
                parts.append(f"{seconds // size}{unit}")
                seconds %= size
        return "every " + "".join(parts)

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after ``instant``."""
        return from_ms((to_ms(_utc(instant)) // self.period_ms + 1) * self.period_ms)

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        """The last tick in ``(after, until]``, or None."""
        tick = to_ms(_utc(until)) // self.period_ms * self.period_ms
        return from_ms(tick) if tick > to_ms(_utc(after)) else None


# -- parsing ------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; ConfigurationError if tzdata does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"timezone: unknown time zone {name!r}") from None


def parse_schedule(value: Any, timezone: str | ZoneInfo = "UTC") -> Schedule:
    """A Schedule from a ``crontab``, a cron string, seconds or a ``timedelta``."""
    tz = timezone if isinstance(timezone, ZoneInfo) else zone(timezone)
    if isinstance(value, crontab):
        return CronSchedule(value.expression, tz, day_or=False)
    if isinstance(value, str):
        expression = " ".join(value.split())
        _check_cron(expression, day_or=True)
        return CronSchedule(expression, tz)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigurationError(
            f"schedule {value!r}: expected crontab(...), a cron string, seconds or a timedelta"
        )
    period_ms = round(seconds * 1000) if math.isfinite(seconds) else 0
    if not period_ms >= 1:
        raise ConfigurationError(f"schedule {value!r}: an interval must be at least 1 ms")
    return IntervalSchedule(period_ms)
