"""Tick computation: crontab, cron strings and intervals, with fixed instants (no clock)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from waasp.runtime import ConfigurationError, crontab
from waasp.runtime.cron.schedules import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    from_ms,
    parse_schedule,
    to_ms,
)

LONDON = "Europe/London"
SPRING = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 2026-03-29 01:00 GMT -> 02:00 BST
AUTUMN = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 2026-10-25 02:00 BST -> 01:00 GMT


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def ticks(schedule: Schedule, start: datetime, until: datetime) -> list[datetime]:
    out: list[datetime] = []
    t = schedule.next_after(start)
    while t <= until:
        out.append(t)
        t = schedule.next_after(t)
    return out


def test_crontab_renders_celery_arguments_as_cron_fields() -> None:
    """crontab(hour=3, minute=0) is '0 3 * * *'; collections become sorted lists."""
    assert crontab(hour=3, minute=0).expression == "0 3 * * *"
    assert crontab(minute=0).expression == "0 * * * *"
    assert crontab().expression == "* * * * *"
    assert (
        crontab(minute=[30, 0], hour="9-17", day_of_week="mon-fri", month_of_year=1).expression
        == "0,30 9-17 * 1 mon-fri"
    )
    assert crontab(hour=3, minute=0) == crontab(minute="0", hour="3")


@pytest.mark.parametrize(
    "kwargs",
    [{"minute": 61}, {"hour": "25"}, {"minute": "0 1"}, {"day_of_week": "funday"}, {"hour": True}],
)
def test_crontab_rejects_invalid_fields(kwargs: dict[str, object]) -> None:
    """A field cron cannot parse raises ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        crontab(**kwargs)  # type: ignore[arg-type]  # deliberately wrong values


def test_daily_crontab_in_utc() -> None:
    """crontab(hour=3, minute=0) ticks at 03:00 UTC each day, strictly after the instant."""
    s = parse_schedule(crontab(hour=3, minute=0))
    assert s.next_after(utc(2026, 5, 1, 2, 59)) == utc(2026, 5, 1, 3, 0)
    assert s.next_after(utc(2026, 5, 1, 3, 0)) == utc(2026, 5, 2, 3, 0)


def test_crontab_days_combine_with_and_like_celery_cron_strings_with_or() -> None:
    """crontab needs day_of_month AND day_of_week (Celery); a cron string takes either (cron)."""
    friday_13th = parse_schedule(crontab(minute=0, hour=0, day_of_month=13, day_of_week="fri"))
    assert friday_13th.next_after(utc(2026, 1, 1)) == utc(2026, 2, 13)
    either = parse_schedule("0 0 13 * fri")
    assert either.next_after(utc(2026, 1, 1)) == utc(2026, 1, 2)


def test_spring_forward_daily_missing_wall_time_fires_once_when_gap_ends() -> None:
    """01:30 does not exist on 2026-03-29 in London: the job runs at 02:00 BST, once."""
    s = parse_schedule(crontab(hour=1, minute=30), LONDON)
    assert ticks(s, SPRING - timedelta(days=1), SPRING + timedelta(days=2)) == [
        utc(2026, 3, 28, 1, 30),  # 01:30 GMT
        utc(2026, 3, 29, 1, 0),  # 02:00 BST, the end of the gap
        utc(2026, 3, 30, 0, 30),  # 01:30 BST
    ]


def test_fall_back_daily_repeated_wall_time_fires_once() -> None:
    """01:30 happens twice on 2026-10-25 in London: a daily job runs at the first only."""
    for schedule in (crontab(hour=1, minute=30), "30 1 * * *"):
        s = parse_schedule(schedule, LONDON)
        assert ticks(s, AUTUMN - timedelta(days=1), AUTUMN + timedelta(days=2)) == [
            utc(2026, 10, 24, 0, 30),  # 01:30 BST
            utc(2026, 10, 25, 0, 30),  # 01:30 BST, the first pass
            utc(2026, 10, 26, 1, 30),  # 01:30 GMT
        ]


def test_hourly_cron_spring_forward_day_has_23_ticks_one_per_real_hour() -> None:
    """'0 * * * *' over the 23-hour spring day ticks every real hour, none twice."""
    s = parse_schedule("0 * * * *", LONDON)
    day = ticks(s, utc(2026, 3, 28, 23, 59), utc(2026, 3, 29, 22, 59))
    assert len(day) == 23
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(day))


def test_hourly_crontab_fall_back_day_has_25_ticks_including_repeated_hour() -> None:
    """crontab(minute=0) over the 25-hour autumn day runs in both passes of 01:00."""
    s = parse_schedule(crontab(minute=0), LONDON)
    day = ticks(s, utc(2026, 10, 24, 22, 59), utc(2026, 10, 25, 23, 59))
    assert len(day) == 25
    assert utc(2026, 10, 25, 0, 0) in day  # 01:00 BST
    assert utc(2026, 10, 25, 1, 0) in day  # 01:00 GMT
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(day))


def test_fixed_hours_across_fall_back_fire_once_each() -> None:
    """crontab(minute=0, hour='1,2') on the autumn day: 01:00 BST once, then 02:00 GMT."""
    s = parse_schedule(crontab(minute=0, hour="1,2"), LONDON)
    assert ticks(s, AUTUMN, utc(2026, 10, 25, 12)) == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)]


def test_quarter_hourly_cron_across_both_transitions_is_strictly_increasing() -> None:
    """'*/15 * * * *' never goes back in time, never repeats an instant, at either change."""
    s = parse_schedule("*/15 * * * *", LONDON)
    for start in (SPRING, AUTUMN):
        got = ticks(s, start, start + timedelta(hours=6))
        assert got == sorted(set(got))
        gaps = {b - a for a, b in itertools.pairwise(got)}
        assert gaps == {timedelta(minutes=15)}


def test_cron_next_after_equals_brute_force_over_the_transition_days() -> None:
    """next_after from every minute of both DST days agrees with the listed ticks."""
    s = parse_schedule("30 * * * *", LONDON)
    for start in (SPRING, AUTUMN):
        expected = ticks(s, start - timedelta(hours=1), start + timedelta(hours=8))
        for minute in range(0, 6 * 60):
            instant = start + timedelta(minutes=minute, seconds=7)
            assert s.next_after(instant) == next(t for t in expected if t > instant)


def test_latest_between_finds_the_last_tick_and_none_when_empty() -> None:
    """latest_between(after, until) is the last tick in (after, until]."""
    daily = parse_schedule(crontab(hour=3, minute=0), LONDON)
    assert daily.latest_between(utc(2026, 1, 1), utc(2026, 1, 10, 12)) == utc(2026, 1, 10, 3)
    assert daily.latest_between(utc(2026, 1, 10, 3), utc(2026, 1, 10, 12)) is None
    every = parse_schedule(10)
    assert every.latest_between(utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 25)) == utc(
        2026, 1, 1, 0, 0, 20
    )
    assert every.latest_between(utc(2026, 1, 1, 0, 0, 20), utc(2026, 1, 1, 0, 0, 29)) is None


def test_intervals_are_anchored_to_the_epoch() -> None:
    """Every scheduler computes the same interval ticks, wherever it starts."""
    s = parse_schedule(timedelta(minutes=5))
    assert s == IntervalSchedule(300_000)
    assert s.next_after(utc(2026, 1, 1, 10, 2, 13)) == utc(2026, 1, 1, 10, 5)
    assert s.next_after(utc(2026, 1, 1, 10, 5)) == utc(2026, 1, 1, 10, 10)
    assert parse_schedule(1.5).next_after(from_ms(1000)) == from_ms(1500)


def test_schedules_describe_themselves() -> None:
    """describe() gives a cron expression with its zone, or 'every <period>'."""
    assert (
        parse_schedule(crontab(hour=3, minute=0), LONDON).describe() == "0 3 * * * (Europe/London)"
    )
    assert parse_schedule("0 3 * * *").describe() == "0 3 * * *"
    assert parse_schedule(5400).describe() == "every 1h30m"
    assert parse_schedule(0.25).describe() == "every 250ms"


@pytest.mark.parametrize(
    "value", ["0 3 * *", "0 3 * * * *", "61 * * * *", "0 0 30 2 *", 0, -5, float("nan"), True, None]
)
def test_bad_schedules_raise_configuration_error(value: object) -> None:
    """Bad cron strings, non-positive intervals and other types are configuration errors."""
    with pytest.raises(ConfigurationError):
        parse_schedule(value)


def test_unknown_time_zone_is_a_configuration_error() -> None:
    """A time zone tzdata does not know is rejected, naming the setting."""
    with pytest.raises(ConfigurationError, match="timezone"):
        parse_schedule("0 3 * * *", "Mars/Olympus")


def test_ms_conversions_round_trip() -> None:
    """to_ms/from_ms are exact inverses on whole milliseconds."""
    instant = utc(2026, 3, 29, 1, 0, 0)
    assert from_ms(to_ms(instant)) == instant
    assert isinstance(parse_schedule("0 * * * *"), CronSchedule)
