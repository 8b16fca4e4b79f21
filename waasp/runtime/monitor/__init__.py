"""The monitoring API: what an application (an HTTP API, a dashboard, ``/metrics``) reads of
a runtime, and the JSON shapes it shows, shared with ``python -m waasp.runtime inspect`` so
the two never disagree.

Every function takes the ``Runtime`` and reads Redis through it; each costs O(queues +
workers + task names + the page asked for), never O(tasks) (``task_detail`` reads at most a
fixed number of entries per place it looks in). This module's ``__all__`` is the whole API:
the modules behind it are private.
"""

from waasp.runtime.broker import (
    PeekedTask,
    Place,
    QueueContents,
    QueueStats,
    RunTimes,
    TaskCounters,
)
from waasp.runtime.cron.scheduler import schedule_status
from waasp.runtime.monitor.contents import peeked_dict, queue_contents, task_detail
from waasp.runtime.monitor.inspection import dead_letter_page, queue_stats, workers
from waasp.runtime.monitor.queries import recent_events, recent_failures, task_counters, throughput
from waasp.runtime.monitor.views import dead_letter_dict, task_dict

__all__ = [
    "PeekedTask",
    "Place",
    "QueueContents",
    "QueueStats",
    "RunTimes",
    "TaskCounters",
    "dead_letter_dict",
    "dead_letter_page",
    "peeked_dict",
    "queue_contents",
    "queue_stats",
    "recent_events",
    "recent_failures",
    "schedule_status",
    "task_counters",
    "task_detail",
    "task_dict",
    "throughput",
    "workers",
]
