"""``beat_schedule`` entries and the misfire rule: which tick, if any, to fire now.

Pure code: the scheduler supplies the Redis server's time and the last fired tick.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from waasp.runtime.cron.schedules import Schedule, parse_schedule, zone
from waasp.runtime.errors import ConfigurationError
from waasp.runtime.expiry import expires_seconds
from waasp.runtime.keys import check_queue_name

ENTRY_KEYS = frozenset({"task", "schedule", "args", "kwargs", "options"})
OPTION_KEYS = frozenset({"queue", "misfire", "misfire_grace", "expires"})
# A tick this late still counts as on time under the "skip" policy: long enough for a
# scheduler restart or a Redis failover, short next to the hourly and daily jobs it guards.
DEFAULT_SKIP_GRACE = 60.0
_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")


class Misfire(StrEnum):
    """What to do with ticks that passed while no scheduler ran."""

    CATCH_UP = "catch_up"  # run the latest missed tick once
    SKIP = "skip"  # run none of them; wait for the next tick


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``beat_schedule`` entry, validated."""

    name: str
    task: str
    schedule: Schedule
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # None: routed like any call of the task
    misfire: Misfire = Misfire.CATCH_UP
    misfire_grace: float | None = None  # seconds late a tick may fire; None: any
    expires: float | None = None  # seconds after its enqueue a run not started is not run

    @property
    def grace(self) -> float | None:
        """How late (seconds) a tick may still fire; None means however late."""
        if self.misfire_grace is not None:
            return self.misfire_grace
        return DEFAULT_SKIP_GRACE if self.misfire is Misfire.SKIP else None


@dataclass(frozen=True, slots=True)
class Due:
    """The tick to handle now."""

    tick: datetime
    late: float  # seconds between the tick and now
    caught_up: bool  # earlier due ticks were folded into this one
    fire: bool  # False: it is too late and the policy skips it


def due(entry: Entry, after: datetime, now: datetime) -> Due | None:
    """The latest tick in ``(after, now]``, and whether to fire it; None if none is due."""
    first = entry.schedule.next_after(after)
    if first > now:
        return None
    tick = first
    caught_up = entry.schedule.next_after(first) <= now
    if caught_up:
        tick = entry.schedule.latest_between(after, now) or first
    late = (now - tick).total_seconds()
    grace = entry.grace
    return Due(tick, late, caught_up, fire=grace is None or late <= grace)


def parse_entries(beat_schedule: Mapping[str, Any], timezone: str) -> list[Entry]:
    """Validate ``beat_schedule``; ConfigurationError names the entry at fault.

    The task need not be registered here: it may live in another process.
    """
    tz = zone(timezone)
    entries: list[Entry] = []
    for name, spec in beat_schedule.items():
        try:
            entries.append(_parse_entry(name, spec, timezone=tz))
        except ConfigurationError as exc:
            raise ConfigurationError(f"beat_schedule[{name!r}]: {exc}") from None
    return entries


def _parse_entry(name: Any, spec: Any, *, timezone: Any) -> Entry:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            "invalid entry name: use 1-200 letters, digits, '_', '.', ':', '-'"
        )
    if not isinstance(spec, Mapping):
        raise ConfigurationError("expected a dict with 'task' and 'schedule'")
    unknown = sorted(set(spec) - ENTRY_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown key(s): {', '.join(map(str, unknown))}")
    task = spec.get("task")
    if not isinstance(task, str) or not task:
        raise ConfigurationError("'task' must be a task name")
    if "schedule" not in spec:
        raise ConfigurationError("'schedule' is missing")
    args = spec.get("args") or ()
    kwargs = spec.get("kwargs") or {}
    if not isinstance(args, list | tuple):
        raise ConfigurationError("'args' must be a tuple or list")
    if not isinstance(kwargs, Mapping):
        raise ConfigurationError("'kwargs' must be a dict")
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise ConfigurationError("'options' must be a dict")
    return Entry(
        name=name,
        task=task,
        schedule=parse_schedule(spec["schedule"], timezone),
        args=tuple(args),
        kwargs=dict(kwargs),
        **_parse_options(options),
    )


def _parse_options(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unsupported option(s): {', '.join(map(str, unknown))} "
            f"(supported: {', '.join(sorted(OPTION_KEYS))})"
        )
    queue = options.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise ConfigurationError("options['queue'] must be a queue name")
    if queue is not None:
        check_queue_name(queue)
    try:
        misfire = Misfire(options.get("misfire", Misfire.CATCH_UP))
    except ValueError:
        raise ConfigurationError(
            f"options['misfire']={options.get('misfire')!r}: use 'catch_up' or 'skip'"
        ) from None
    grace = options.get("misfire_grace")
    if grace is not None and (
        isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0
    ):
        raise ConfigurationError("options['misfire_grace'] must be seconds >= 0")
    try:
        expires = expires_seconds(options.get("expires"), "options['expires']")
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None
    return {
        "expires": expires,
        "queue": queue,
        "misfire": misfire,
        "misfire_grace": float(grace) if grace is not None else None,
    }
