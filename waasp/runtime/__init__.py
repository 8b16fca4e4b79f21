"""A pure-asyncio task runtime on Redis Streams, with Celery's names.

It imports nothing from the rest of ``waasp``: any application can use it. This module's
``__all__`` is the runtime's API, with ``waasp.runtime.monitor`` for monitoring; every other
module is private.
"""

from waasp.runtime.app import Runtime
from waasp.runtime.broker import REDIS_ERRORS
from waasp.runtime.broker.ratelimit import RateDecision, RateLimiter
from waasp.runtime.broker.stream_ids import parse_entry_id
from waasp.runtime.broker.windows import WindowCounter, WindowHit
from waasp.runtime.config import Config
from waasp.runtime.cron.scheduler import Scheduler
from waasp.runtime.cron.schedules import crontab
from waasp.runtime.errors import (
    ConfigurationError,
    DeadLetterNotFound,
    MaxRetriesExceededError,
    NotRegistered,
    NotReplicated,
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
    UNREADY_STATES,
    TaskState,
)
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
    "UNREADY_STATES",
    "AsyncResult",
    "Config",
    "ConfigurationError",
    "DeadLetterNotFound",
    "MaxRetriesExceededError",
    "NotRegistered",
    "NotReplicated",
    "RateDecision",
    "RateLimiter",
    "Reject",
    "ResultTimeout",
    "Retry",
    "Runtime",
    "Scheduler",
    "Signature",
    "SoftTimeLimitExceeded",
    "Task",
    "TaskFailed",
    "TaskRuntimeError",
    "TaskState",
    "TimeLimitExceeded",
    "WindowCounter",
    "WindowHit",
    "Worker",
    "crontab",
    "parse_entry_id",
]
