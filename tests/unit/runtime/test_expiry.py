"""``expires``: its parsing and validation, the message field, beat entries' option (no I/O)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from waasp.runtime import ConfigurationError, Runtime
from waasp.runtime.cron.entries import parse_entries
from waasp.runtime.expiry import deadline, expires_seconds
from waasp.runtime.message import DecodeError, TaskMessage, decode_message, encode_message


def test_seconds_timedelta_and_datetime_give_a_deadline() -> None:
    """Seconds and a timedelta count from the send; a datetime is the deadline itself."""
    assert deadline(30, 1000.0) == 1030.0
    assert deadline(2.5, 1000.0) == 1002.5
    assert deadline(timedelta(minutes=1), 1000.0) == 1060.0
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert deadline(moment, 1000.0) == moment.timestamp()
    assert deadline(None, 1000.0) is None


@pytest.mark.parametrize("bad", [-1, 0, -0.5, math.nan, math.inf, timedelta(seconds=-1)])
def test_expires_that_is_not_a_positive_finite_number_is_a_value_error(bad: Any) -> None:
    """Negative, zero, NaN and infinite expiries are refused with a ValueError naming them."""
    with pytest.raises(ValueError, match="expires"):
        expires_seconds(bad)


@pytest.mark.parametrize("bad", ["60", True, [1], object()])
def test_expires_of_the_wrong_type_is_a_type_error(bad: Any) -> None:
    """A string, a bool or any other object is a TypeError."""
    with pytest.raises(TypeError, match="expires"):
        expires_seconds(bad)


async def test_apply_async_and_task_option_validate_expires() -> None:
    """``@task(expires=)`` is checked when the task is declared, ``apply_async(expires=)``
    before anything is sent (no Redis is reached: the runtime points nowhere)."""
    runtime = Runtime("x", broker_url="redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="expires"):
        runtime.task(expires=-5)(lambda: None)
    task = runtime.task(name="t.ok", expires=timedelta(minutes=15))(lambda: None)
    assert task.expires == 900.0
    bad_values: list[tuple[Any, type[Exception]]] = [
        (math.nan, ValueError),
        ("soon", TypeError),
        (-1, ValueError),
    ]
    for bad, error in bad_values:
        with pytest.raises(error, match="expires"):
            await task.apply_async(expires=bad)
    message = runtime.build_message("t.ok", task=task)
    assert message.expires == pytest.approx(message.enqueued_at + 900.0)
    explicit = runtime.build_message("t.ok", expires=10)
    assert explicit.expires == pytest.approx(explicit.enqueued_at + 10)


def test_message_carries_the_deadline() -> None:
    """``expires`` round-trips through the message; absent, it is None; a wrong type is a
    DecodeError."""
    message = TaskMessage(id="1", task="t", expires=1234.5)
    assert decode_message(encode_message(message)).expires == 1234.5
    assert decode_message(encode_message(TaskMessage(id="1", task="t"))).expires is None
    assert b"expires" not in encode_message(TaskMessage(id="1", task="t"))
    raw = b'{"id":"1","task":"t","args":[],"kwargs":{},"queue":"q","retries":0,"expires":"x"}'
    with pytest.raises(DecodeError, match="expires"):
        decode_message(raw)


def test_a_beat_entry_takes_expires_in_its_options() -> None:
    """``options={"expires": seconds}`` is parsed; a bad value is a ConfigurationError."""
    spec: dict[str, Any] = {"task": "app.tick", "schedule": 60, "options": {"expires": 30}}
    assert parse_entries({"e": spec}, "UTC")[0].expires == 30.0
    for bad in (-1, "30", math.nan):
        spec["options"] = {"expires": bad}
        with pytest.raises(ConfigurationError, match="expires"):
            parse_entries({"e": spec}, "UTC")
