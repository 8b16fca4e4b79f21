"""Rate strings (Celery's syntax) and the limits' options are checked where they are given."""

from __future__ import annotations

import pytest

from waasp.runtime import ConfigurationError, Runtime
from waasp.runtime.rates import parse_rate


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("20/s", 20.0), ("10/m", 10 / 60), ("3/h", 3 / 3600), ("5", 5.0), (2.5, 2.5), (7, 7.0)],
)
def test_rates_parse_as_celery_reads_them(text: str | float, per_second: float) -> None:
    """``N/s``, ``N/m``, ``N/h`` and a bare number (per second) are tasks per second."""
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("bad", ["abc", "0/s", "10/d", -1, "", "-5/s", "1/", True, None, 0])
def test_bad_rates_are_a_value_error(bad: object) -> None:
    """Anything else is a ValueError that quotes the value."""
    with pytest.raises(ValueError, match="rate limit must be") as raised:
        parse_rate(bad)
    assert repr(bad) in str(raised.value)


@pytest.mark.parametrize("bad", ["abc", "0/s", "10/d", -1])
def test_a_bad_task_rate_fails_at_decoration(bad: object) -> None:
    """``@task(rate_limit=…)`` refuses a bad rate when the function is decorated."""
    runtime = Runtime("x", environ={})
    with pytest.raises(ValueError, match="rate limit must be"):
        runtime.task(rate_limit=bad)(lambda: None)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_a_bad_max_concurrency_fails_at_decoration(bad: object) -> None:
    """``max_concurrency`` must be an int of at least 1."""
    runtime = Runtime("x", environ={})
    with pytest.raises(ValueError, match="max_concurrency"):
        runtime.task(max_concurrency=bad)(lambda: None)


def test_queue_rate_limits_are_checked_by_conf_update() -> None:
    """A bad queue name or rate in ``task_queue_rate_limits`` is refused, naming it, and
    changes nothing."""
    runtime = Runtime("x", environ={})
    runtime.conf.update(task_queue_rate_limits={"webhooks": "50/s"})
    assert runtime.conf.queue_rates() == {"webhooks": 50.0}
    for bad in ({"webhooks": "10/d"}, {"no spaces": "1/s"}, {"w": "abc"}):
        with pytest.raises(ConfigurationError, match="task_queue_rate_limits") as raised:
            runtime.conf.update(task_queue_rate_limits=bad)
        assert isinstance(raised.value, ValueError)
    assert runtime.conf.task_queue_rate_limits == {"webhooks": "50/s"}
