"""How a delivery ends when it fails for good: its error as stored, its FAILURE record, its
dead letter. Task code owns the exceptions rendered here, so rendering never raises."""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from waasp.runtime.broker import RawDelivery, SettleOp
from waasp.runtime.message import (
    REVOKED_ERROR,
    DeadLetterRecord,
    DecodeError,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    decode_message,
    max_deliveries_letter,
)
from waasp.runtime.states import FAILURE, REVOKED, TaskState

TRACEBACK_LIMIT = 16_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery ended: the record to store (if any) and how to settle its entry."""

    state: TaskState
    op: SettleOp
    record: ResultRecord | None = None
    retval: Any = None  # SUCCESS: what the task returned (task_success; a workflow passes it on)
    exc: BaseException | None = None  # RETRY and FAILURE: why (for task_retry, task_failure)


def render(produce: Callable[[], str], fallback: str) -> str:
    """``produce()``, or ``fallback`` if it raises anything."""
    # Task code owns the exception: its __str__ (or a broken cause chain) may raise anything.
    try:
        return produce()
    except BaseException:
        return fallback


def remote_error(exc: BaseException) -> RemoteError:
    """An exception as stored and shown elsewhere: qualified type, message, traceback."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    message = render(lambda: str(exc), "<exception str() failed>")
    text = render(lambda: "".join(traceback.format_exception(exc)), f"{name}: {message}\n")
    return RemoteError(name, message, text[-TRACEBACK_LIMIT:])


def failure_meta(
    message: TaskMessage,
    delivery: RawDelivery,
    worker: str,
    error: RemoteError,
    state: TaskState = FAILURE,
    started_at: float | None = None,
) -> TaskMeta:
    """The FAILURE (or REVOKED) record of a task that will not run again."""
    return TaskMeta(
        id=message.id,
        state=state,
        name=message.task,
        error=error,
        retries=message.retries,
        queue=delivery.queue,
        worker=worker,
        started_at=started_at,
        date_done=time.time(),
        entry_id=delivery.entry_id,
        deliveries=delivery.deliveries,
    )


def dead_outcome(
    delivery: RawDelivery,
    reason: str,
    error: RemoteError,
    worker: str,
    message: TaskMessage | None = None,
) -> Outcome:
    """Dead-letter the delivery; if its id is known, record it as FAILURE."""
    retries = message.retries if message else 0
    letter = DeadLetterRecord(reason, delivery.raw, error, retries, delivery.deliveries, worker)
    record = None
    if message is not None:
        record = ResultRecord(failure_meta(message, delivery, worker, error))
    return Outcome(FAILURE, SettleOp.dead(delivery.entry_id, letter), record)


def revoked_outcome(
    delivery: RawDelivery,
    message: TaskMessage,
    worker: str,
    reason: str,
    started_at: float | None = None,
) -> Outcome:
    """A revoked (or expired) task leaves the queue acknowledged, recorded REVOKED with the
    reason as its error's message: never retried, never dead-lettered."""
    error = RemoteError(REVOKED_ERROR, reason)
    meta = failure_meta(message, delivery, worker, error, REVOKED, started_at)
    return Outcome(REVOKED, SettleOp.ack(delivery.entry_id), ResultRecord(meta))


def max_deliveries_outcome(delivery: RawDelivery, worker: str, starts: int) -> Outcome:
    """How a delivery that had started ``starts`` times (``broker_max_deliveries``) ended:
    ``lua/start.lua`` dead-lettered it, as ``max_deliveries_letter`` describes, instead of
    starting it again."""
    letter = max_deliveries_letter(delivery.raw, starts, delivery.deliveries, worker)
    return dead_outcome(delivery, letter.reason, letter.error, worker, decoded(delivery))


# Admission, the start gate and the executor each need a delivery's message: decoded once,
# not three times (a decode is about 10 % of a drain's time). Keyed by the payload, whose hash
# Python keeps on the bytes object; the bound exceeds any prefetch a worker holds in practice, and a
# miss only costs a decode. TaskMessage is frozen, so sharing one is safe.
@functools.lru_cache(maxsize=4096)
def message_of(raw: bytes) -> TaskMessage:
    """The message of a delivery's payload (DecodeError if malformed), decoded once."""
    return decode_message(raw)


def decoded(delivery: RawDelivery) -> TaskMessage | None:
    """The delivery's message, or None if it cannot be decoded."""
    try:
        return message_of(delivery.raw)
    except DecodeError:
        return None
