"""A worker's task events for monitoring: noted as deliveries end, written in batches.

Each delivery yields one event when it finishes (``succeeded``, ``retried``, ``failed``,
``dead_lettered`` or ``revoked``); ``started`` is only counted. A worker notes them in memory
and writes them with one script call (``broker.events.record``) as a step of a settle flush,
at most every ``EVENTS_WRITE_INTERVAL`` seconds: a busy worker pays one round trip per
interval, not per task or per flush (measured: a write in every flush cost ~10% of drain
throughput).
Counters are kept under the names of registered tasks only; a message naming any other task
(or none that can be read) is counted as ``<unknown>``, so junk cannot grow the counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container
from typing import TYPE_CHECKING

import structlog

from waasp.runtime.broker import (
    REDIS_REFUSALS,
    UNKNOWN_TASK,
    Broker,
    EventBatch,
    EventKind,
    Fault,
    RawDelivery,
    TaskEvent,
    classify,
)
from waasp.runtime.message import TASK_FAILED, DecodeError, TaskMeta, decode_message
from waasp.runtime.states import RETRY, REVOKED, SUCCESS
from waasp.runtime.worker.outcomes import Outcome

if TYPE_CHECKING:
    from waasp.runtime.config import Config

log = structlog.get_logger("waasp.runtime.worker.events")

EVENTS_WRITE_INTERVAL = 0.25
_NAME_MAX = 200


def _clip(name: str | None) -> str:
    return (name or UNKNOWN_TASK)[:_NAME_MAX]


def _identify(raw: bytes) -> tuple[str | None, str | None]:
    try:
        message = decode_message(raw)
    except DecodeError:
        return None, None
    return message.task, message.id


class EventRecorder:
    """Buffers one worker's events between writes; ``take`` + ``write`` persist them."""

    def __init__(
        self,
        broker: Broker,
        conf: Config,
        worker: str,
        registered: Container[str],
        interval: float = EVENTS_WRITE_INTERVAL,
    ) -> None:
        self.broker = broker
        self.conf = conf
        self.worker = worker
        self.registered = registered  # the task names counters are kept under
        self.interval = interval
        # Called when a batch becomes due (the settler sets it to wake its flush loop).
        self.on_due: Callable[[], None] = lambda: None
        self.due = False
        self._timer: asyncio.TimerHandle | None = None
        self._batch = EventBatch()

    @property
    def pending(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self._batch)

    def _arm(self) -> None:
        if self._timer is None and not self.due:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.due = True
        self.on_due()

    def started(self, meta: TaskMeta) -> None:
        """Count a STARTED record."""
        known = meta.name is not None and meta.name in self.registered
        self._batch.started.append(_clip(meta.name) if known else UNKNOWN_TASK)
        self._arm()

    def finished(self, delivery: RawDelivery, outcome: Outcome, seconds: float | None) -> None:
        """Note how a delivery ended (``seconds``: how long it ran)."""
        meta = outcome.record.meta if outcome.record is not None else None
        task_id: str | None
        if meta is not None:
            raw_name, task_id = meta.name, meta.id
        else:
            raw_name, task_id = _identify(delivery.raw)
        name = _clip(raw_name)
        registered = raw_name is not None and raw_name in self.registered
        letter = outcome.op.dead_letter  # every other outcome is a dead letter
        if outcome.state == SUCCESS:
            event = TaskEvent(
                EventKind.SUCCEEDED, name, task_id, delivery.queue, seconds, registered=registered
            )
        elif outcome.state == RETRY:
            event = TaskEvent(
                EventKind.RETRIED,
                name,
                task_id,
                delivery.queue,
                seconds,
                retries=meta.retries if meta is not None else 0,
                error=meta.error if meta is not None else None,
                registered=registered,
            )
        elif outcome.state == REVOKED:
            reason = meta.error.message if meta is not None and meta.error is not None else None
            event = TaskEvent(
                EventKind.REVOKED,
                name,
                task_id,
                delivery.queue,
                seconds,
                reason=reason,
                registered=registered,
            )
        elif letter is not None:
            failed = letter.reason == TASK_FAILED
            event = TaskEvent(
                EventKind.FAILED if failed else EventKind.DEAD_LETTERED,
                name,
                task_id,
                delivery.queue,
                seconds if failed else None,  # a dead letter never ran as a task
                retries=letter.retries,
                error=letter.error,
                reason=letter.reason,
                deliveries=letter.deliveries,
                registered=registered,
            )
        else:
            return
        self._batch.finished.append(event)
        self._arm()

    def take(self, force: bool = False) -> EventBatch | None:
        """What was noted since the last write, once due (or ``force``d); else None."""
        if not self._batch or not (self.due or force):
            return None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.due = False
        batch, self._batch = self._batch, EventBatch()
        return batch

    async def write(self, batch: EventBatch) -> None:
        """Persist a batch in one script call (a batch Redis refuses for good is logged and
        dropped: monitoring never stops a worker; a lost connection or a refusal that
        waiting cures, such as OOM, raises, so the flush retries)."""
        try:
            await self.broker.events.record(batch, self.conf, self.worker)
        except REDIS_REFUSALS as exc:
            if classify(exc) is not Fault.BUG:
                raise
            log.warning("events_write_failed", error=str(exc))
