"""The app the scheduler subprocesses of ``test_scheduler.py`` load with ``-A``.

``WAASP_REDIS_URL`` and ``WAASP_KEY_PREFIX`` come from the test. ``SCHED_TEST_INTERVAL``
sets the entry's period in seconds; ``SCHED_TEST_CLOCK_SKEW`` (seconds) moves this
process's wall clock, to show the scheduler does not read it.
"""

from __future__ import annotations

import os
import time

from waasp.runtime import Runtime, Task

_skew = float(os.environ.get("SCHED_TEST_CLOCK_SKEW", "0"))
if _skew:
    # Test-only: this module runs in its own process, so patching its clock touches nothing else.
    _time, _time_ns = time.time, time.time_ns
    time.time = lambda: _time() + _skew
    time.time_ns = lambda: _time_ns() + int(_skew * 1e9)

runtime = Runtime("waasp")
runtime.conf.update(
    beat_schedule={
        "every-second": {
            "task": "tests.integration.runtime.sched_app.tick",
            "schedule": float(os.environ.get("SCHED_TEST_INTERVAL", "1")),
            "args": ("beat",),
            "options": {"queue": "beat"},
        }
    }
)


@runtime.task(bind=True)
def tick(self: Task, label: str) -> str | None:
    """Return the tick this run was enqueued for."""
    return self.request.scheduled_for
