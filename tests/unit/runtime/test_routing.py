"""Which queue a task goes to."""

from __future__ import annotations

from typing import Any

import pytest

from waasp.runtime import ConfigurationError, Runtime
from waasp.runtime.routing import resolve_queue

ROUTES: dict[str, dict[str, Any]] = {
    "waasp.tasks.notify_*": {"queue": "high"},
    "waasp.tasks.*": {"queue": "default"},
    "other.*": {"priority": 1},
}


def test_first_matching_glob_wins() -> None:
    """Routes are globs tried in order; the first match picks the queue."""
    assert resolve_queue("waasp.tasks.notify_blocked_sender", None, None, ROUTES, "d") == "high"
    assert resolve_queue("waasp.tasks.send_webhook", None, None, ROUTES, "d") == "default"


def test_unmatched_or_queueless_route_falls_back_to_default() -> None:
    """No match, or a match without a queue, goes to the default queue."""
    assert resolve_queue("elsewhere.task", None, None, ROUTES, "fallback") == "fallback"
    assert resolve_queue("other.task", None, None, ROUTES, "fallback") == "fallback"


def test_explicit_then_own_queue_beat_routes() -> None:
    """An explicit queue beats the task's own queue, which beats the routes."""
    name = "waasp.tasks.notify_x"
    assert resolve_queue(name, "low", "mine", ROUTES, "d") == "low"
    assert resolve_queue(name, None, "mine", ROUTES, "d") == "mine"


def test_globs_are_case_sensitive() -> None:
    """Glob matching is case-sensitive on every platform."""
    assert resolve_queue("WAASP.tasks.notify_x", None, None, ROUTES, "d") == "d"


def test_runtime_route_validates_the_queue_name() -> None:
    """A route to an invalid queue name is a ConfigurationError (no I/O happens)."""
    runtime = Runtime("unit", environ={})
    runtime.conf.update(task_routes={"bad.*": {"queue": "has space"}})
    with pytest.raises(ConfigurationError):
        runtime.route("bad.task")
    assert runtime.route("good.task") == "default"


def test_task_queue_option_is_used() -> None:
    """``@runtime.task(queue=...)`` routes that task there."""
    runtime = Runtime("unit", environ={})

    @runtime.task(queue="high")
    async def urgent() -> None:
        """Nothing."""

    assert runtime.route(urgent.name) == "high"
    assert urgent.name.endswith("test_task_queue_option_is_used.<locals>.urgent")
