"""A pure-asyncio task runtime on Redis Streams, with Celery's names.

It imports nothing from the rest of ``waasp``: any application can use it. This module's
``__all__`` is the runtime's API, with ``waasp.runtime.monitor`` for monitoring; every other
module is private.
"""

from waasp.runtime import signals
from waasp.runtime.app import Runtime
from waasp.runtime.broker import REDIS_ERRORS
from waasp.runtime.broker.ratelimit import RateDecision, RateLimiter
from waasp.runtime.broker.stream_ids import parse_entry_id
from waasp.runtime.broker.windows import WindowCounter, WindowHit
from waasp.runtime.canvas import GroupResult, chain, chord, group
from waasp.runtime.config import Config
from waasp.runtime.control import Control, RevokeReport, check_task_id
from waasp.runtime.cron.scheduler import Scheduler
from waasp.runtime.cron.schedules import crontab
from waasp.runtime.errors import (
    ChordError,
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
    TaskRevoked,
    TaskRuntimeError,
    TimeLimitExceeded,
)
from waasp.runtime.results import AsyncResult, EagerResult
from waasp.runtime.states import (
    EXCEPTION_STATES,
    FAILURE,
    PENDING,
    READY_STATES,
    RETRY,
    REVOKED,
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
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "UNREADY_STATES",
    "AsyncResult",
    "ChordError",
    "Config",
    "ConfigurationError",
    "Control",
    "DeadLetterNotFound",
    "EagerResult",
    "GroupResult",
    "MaxRetriesExceededError",
    "NotRegistered",
    "NotReplicated",
    "RateDecision",
    "RateLimiter",
    "Reject",
    "ResultTimeout",
    "Retry",
    "RevokeReport",
    "Runtime",
    "Scheduler",
    "Signature",
    "SoftTimeLimitExceeded",
    "Task",
    "TaskFailed",
    "TaskRevoked",
    "TaskRuntimeError",
    "TaskState",
    "TimeLimitExceeded",
    "WindowCounter",
    "WindowHit",
    "Worker",
    "chain",
    "check_task_id",
    "chord",
    "crontab",
    "group",
    "parse_entry_id",
    "signals",
]
