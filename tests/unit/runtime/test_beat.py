"""beat_schedule validation and the misfire rule, with fixed instants (no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from waasp.runtime import ConfigurationError, crontab
from waasp.runtime.cron.entries import DEFAULT_SKIP_GRACE, Entry, Misfire, due, parse_entries
from waasp.runtime.cron.schedules import parse_schedule

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def entry(schedule: Any = 1, **options: Any) -> Entry:
    spec: dict[str, Any] = {"task": "app.tick", "schedule": schedule}
    if options:
        spec["options"] = options
    return parse_entries({"e": spec}, "UTC")[0]


def test_celery_shaped_beat_schedule_parses() -> None:
    """The spec's Celery beat_schedule parses unchanged."""
    entries = parse_entries(
        {
            "cleanup-old-audit-logs": {
                "task": "waasp.tasks.cleanup_old_audit_logs",
                "schedule": crontab(hour=3, minute=0),
                "args": (90,),
            },
            "aggregate-hourly-stats": {
                "task": "waasp.tasks.aggregate_audit_stats",
                "schedule": crontab(minute=0),
                "args": ("hourly",),
                "kwargs": {},
                "options": {"queue": "default", "misfire": "skip", "misfire_grace": 30},
            },
        },
        "Europe/London",
    )
    cleanup, stats = entries
    assert cleanup.args == (90,)
    assert cleanup.misfire is Misfire.CATCH_UP
    assert cleanup.grace is None
    assert stats.queue == "default"
    assert stats.misfire is Misfire.SKIP
    assert stats.grace == 30.0


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"task": "t", "schedule": 1, "relative": True}, "unknown key"),
        ({"schedule": 1}, "'task'"),
        ({"task": "t"}, "'schedule' is missing"),
        ({"task": "t", "schedule": "not cron"}, "cron expression"),
        ({"task": "t", "schedule": -1}, "at least 1 ms"),
        ({"task": "t", "schedule": 1, "args": "ab"}, "'args'"),
        ({"task": "t", "schedule": 1, "kwargs": [1]}, "'kwargs'"),
        ({"task": "t", "schedule": 1, "options": {"routing_key": "x"}}, "unsupported option"),
        ({"task": "t", "schedule": 1, "options": {"misfire": "later"}}, "misfire"),
        ({"task": "t", "schedule": 1, "options": {"misfire_grace": -1}}, "misfire_grace"),
        ({"task": "t", "schedule": 1, "options": {"queue": "a b"}}, "queue name"),
        ("every minute", "expected a dict"),
    ],
)
def test_bad_entries_raise_configuration_error_naming_the_entry(spec: Any, match: str) -> None:
    """Each invalid entry is a ConfigurationError that names the entry and the problem."""
    with pytest.raises(ConfigurationError, match=match) as info:
        parse_entries({"nightly": spec}, "UTC")
    assert "beat_schedule['nightly']" in str(info.value)


def test_entry_names_must_be_usable_in_a_key() -> None:
    """Names with spaces or braces are rejected; an unknown task is not."""
    with pytest.raises(ConfigurationError, match="entry name"):
        parse_entries({"add every 10s": {"task": "t", "schedule": 10}}, "UTC")
    with pytest.raises(ConfigurationError, match="entry name"):
        parse_entries({"{x}": {"task": "t", "schedule": 10}}, "UTC")
    assert parse_entries({"x": {"task": "not.registered.anywhere", "schedule": 10}}, "UTC")


def test_nothing_due_before_the_next_tick() -> None:
    """No tick in (after, now] means nothing to do."""
    assert due(entry(10), T0, T0 + timedelta(seconds=9.999)) is None


def test_one_tick_due_on_time_fires() -> None:
    """The usual case: one tick just passed, fired, not a catch-up."""
    d = due(entry(10), T0, T0 + timedelta(seconds=10.004))
    assert d is not None
    assert (d.tick, d.fire, d.caught_up) == (T0 + timedelta(seconds=10), True, False)
    assert d.late == pytest.approx(0.004)


def test_many_missed_ticks_catch_up_once_with_the_latest() -> None:
    """Six missed ticks fold into one run of the latest (catch_up, the default)."""
    d = due(entry(1), T0, T0 + timedelta(seconds=6.5))
    assert d is not None
    assert (d.tick, d.fire, d.caught_up) == (T0 + timedelta(seconds=6), True, True)


def test_catch_up_has_no_lateness_limit_by_default() -> None:
    """A daily job missed by 20 hours still runs once (catch_up)."""
    daily = entry(crontab(hour=3, minute=0))
    d = due(daily, datetime(2026, 4, 30, 3, tzinfo=UTC), datetime(2026, 5, 1, 23, tzinfo=UTC))
    assert d is not None
    assert d.fire
    assert d.tick == datetime(2026, 5, 1, 3, tzinfo=UTC)


def test_skip_policy_drops_a_tick_later_than_the_grace() -> None:
    """misfire='skip': a tick more than misfire_grace late is not fired."""
    hourly = entry(3600, misfire="skip", misfire_grace=120)
    late = due(hourly, T0 - timedelta(hours=3), T0 + timedelta(minutes=5))
    assert late is not None
    assert (late.tick, late.fire) == (T0, False)
    on_time = due(hourly, T0 - timedelta(hours=3), T0 + timedelta(minutes=1))
    assert on_time is not None
    assert on_time.fire


def test_skip_policy_default_grace() -> None:
    """Without misfire_grace, 'skip' tolerates DEFAULT_SKIP_GRACE seconds of lateness."""
    hourly = entry(3600, misfire="skip")
    assert hourly.grace == DEFAULT_SKIP_GRACE
    d = due(hourly, T0 - timedelta(hours=1), T0 + timedelta(seconds=DEFAULT_SKIP_GRACE + 1))
    assert d is not None
    assert not d.fire


def test_catch_up_with_a_grace_is_bounded_too() -> None:
    """misfire_grace on a catch_up entry bounds how late the catch-up may run."""
    hourly = entry(3600, misfire_grace=60)
    d = due(hourly, T0 - timedelta(hours=5), T0 + timedelta(minutes=30))
    assert d is not None
    assert not d.fire


def test_due_over_the_fall_back_hour_in_london() -> None:
    """An hourly cron caught up across the repeated hour picks the last real tick."""
    hourly = Entry("h", "t", parse_schedule("0 * * * *", "Europe/London"))
    d = due(
        hourly,
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    assert d is not None
    assert d.tick == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 01:00 GMT, the second pass
    assert d.caught_up
