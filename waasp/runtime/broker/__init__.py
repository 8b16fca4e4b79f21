"""Redis: the one owner of the runtime's Redis commands and Lua scripts.

Nothing else in the runtime talks to Redis: it calls the typed methods of ``Broker`` (queue
operations, and its ``dead``, ``events``, ``ticks`` and ``workers`` stores) and of
``ResultBackend``, which encode records on the way in and decode them on the way out.
"""

from waasp.runtime.broker.blocking import LeaseRenewals
from waasp.runtime.broker.client import WORKER_SOCKET_TIMEOUT, connect, connect_pubsub
from waasp.runtime.broker.dead import DeadLetterPage, dead_letter_id, split_dead_letter_id
from waasp.runtime.broker.errors import (
    ANY_REDIS_ERROR,
    REDIS_ERRORS,
    REDIS_REFUSALS,
    Fault,
    GroupMissing,
    RedisRefused,
    check_cancelled,
    classify,
)
from waasp.runtime.broker.events import (
    UNKNOWN_TASK,
    EventBatch,
    EventKind,
    RunTimes,
    TaskCounters,
    TaskEvent,
)
from waasp.runtime.broker.ops import (
    Promoted,
    SendOnce,
    SettleKind,
    SettleOp,
    StartReply,
    StartVerdict,
)
from waasp.runtime.broker.outages import LoopGuard, Outages, refused_alone
from waasp.runtime.broker.peek import PeekedTask, Place, QueueContents
from waasp.runtime.broker.queues import QueueStats
from waasp.runtime.broker.reads import RawDelivery
from waasp.runtime.broker.results import ResultBackend
from waasp.runtime.broker.revokes import RevokeMark
from waasp.runtime.broker.streams import PROMOTE_BATCH, PROMOTE_LEAD_MS, Broker

__all__ = [
    "ANY_REDIS_ERROR",
    "PROMOTE_BATCH",
    "PROMOTE_LEAD_MS",
    "REDIS_ERRORS",
    "REDIS_REFUSALS",
    "UNKNOWN_TASK",
    "WORKER_SOCKET_TIMEOUT",
    "Broker",
    "DeadLetterPage",
    "EventBatch",
    "EventKind",
    "Fault",
    "GroupMissing",
    "LeaseRenewals",
    "LoopGuard",
    "Outages",
    "PeekedTask",
    "Place",
    "Promoted",
    "QueueContents",
    "QueueStats",
    "RawDelivery",
    "RedisRefused",
    "ResultBackend",
    "RevokeMark",
    "RunTimes",
    "SendOnce",
    "SettleKind",
    "SettleOp",
    "StartReply",
    "StartVerdict",
    "TaskCounters",
    "TaskEvent",
    "check_cancelled",
    "classify",
    "connect",
    "connect_pubsub",
    "dead_letter_id",
    "refused_alone",
    "split_dead_letter_id",
]
