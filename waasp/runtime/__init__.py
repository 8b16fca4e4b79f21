"""A pure-asyncio task runtime on Redis Streams, with Celery's names.

It imports nothing from the rest of ``waasp``: any application can use it.
"""

from waasp.runtime.app import Runtime
from waasp.runtime.broker.errors import REDIS_ERRORS
from waasp.runtime.broker.ratelimit import RateDecision, RateLimiter
from waasp.runtime.cron.schedules import crontab
from waasp.runtime.errors import (
    ConfigurationError,
    MaxRetriesExceededError,
    NotRegistered,
    Reject,
    ResultTimeout,
    Retry,
    SoftTimeLimitExceeded,
    TaskFailed,
    TaskRuntimeError,
    TimeLimitExceeded,
)
from waasp.runtime.results import AsyncResult
from waasp.runtime.states import (
    EXCEPTION_STATES,
    FAILURE,
    PENDING,
    READY_STATES,
    RETRY,
    STARTED,
    SUCCESS,
    TaskState,
)
from waasp.runtime.stream_ids import parse_entry_id
from waasp.runtime.task import Signature, Task
from waasp.runtime.worker.worker import Worker

__all__ = [
    "EXCEPTION_STATES",
    "FAILURE",
    "PENDING",
    "READY_STATES",
    "REDIS_ERRORS",
    "RETRY",
    "STARTED",
    "SUCCESS",
    "AsyncResult",
    "ConfigurationError",
    "MaxRetriesExceededError",
    "NotRegistered",
    "RateDecision",
    "RateLimiter",
    "Reject",
    "ResultTimeout",
    "Retry",
    "Runtime",
    "Signature",
    "SoftTimeLimitExceeded",
    "Task",
    "TaskFailed",
    "TaskRuntimeError",
    "TaskState",
    "TimeLimitExceeded",
    "Worker",
    "crontab",
    "parse_entry_id",
]
