"""The scheduler's tests, run again against a 3-master Redis Cluster (see conftest)."""

from tests.integration.runtime.test_scheduler import (  # noqa: F401 - fixtures
    prefix,
    runtime,
    schedulers,
    test_fire_tick_script_is_exactly_once_and_monotonic,
    test_inspect_schedule_shows_next_and_last_run,
    test_three_schedulers_enqueue_each_tick_exactly_once,
    test_ticks_reach_the_task_with_their_scheduled_time,
)

__all__ = [
    "test_fire_tick_script_is_exactly_once_and_monotonic",
    "test_inspect_schedule_shows_next_and_last_run",
    "test_three_schedulers_enqueue_each_tick_exactly_once",
    "test_ticks_reach_the_task_with_their_scheduled_time",
]
