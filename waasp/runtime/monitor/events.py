"""Task events for monitoring: recent events, recent failures, counters, run times, throughput.

A worker buffers what happened and writes it with one script call
(``lua/record_events.lua``) as a step of a settle flush, at most every
``EVENTS_WRITE_INTERVAL`` seconds: a busy worker pays one round trip per interval, not per
task or per flush (measured: a write in every flush cost ~10% of drain throughput).

Each delivery yields one event when it finishes (``succeeded``, ``retried``, ``failed`` or
``dead_lettered``); ``started`` is only counted. The events stream holds one entry per event
kind per write (a list of tasks); failures also go, one entry each with the traceback, to a
stream of their own.
Everything is capped or expires: the events stream by ``events_max_length`` and
``events_ttl``, the failures stream by ``events_failures_max_length``, the counters by
``events_counters_ttl`` (refreshed on every write).

Readers cost O(task names + buckets + the page asked for), never O(tasks).
"""

from __future__ import annotations

import asyncio
import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from redis.exceptions import ResponseError

from waasp.runtime.broker.streams import Broker, RawDelivery
from waasp.runtime.message import DecodeError, TaskMeta, decode_message
from waasp.runtime.states import FAILURE, RETRY, SUCCESS
from waasp.runtime.worker.executor import Outcome

if TYPE_CHECKING:
    from waasp.runtime.config import Config

log = structlog.get_logger("waasp.runtime.monitor.events")

STARTED_EVENT = "started"
SUCCEEDED = "succeeded"
RETRIED = "retried"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"
# What a delivery can end as; each is one entry in the events stream.
FINISH_EVENTS = (SUCCEEDED, RETRIED, FAILED, DEAD_LETTERED)
EVENTS = (STARTED_EVENT, *FINISH_EVENTS)

# Upper bounds (seconds) of the run-time histogram; background tasks run long.
RUN_TIME_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_TIME_LABELS = (*(f"{b:g}" for b in RUN_TIME_BUCKETS), "+Inf")
THROUGHPUT_BUCKET_SECONDS = 10
EVENTS_WRITE_INTERVAL = 0.25
# Tasks of one kind kept in one events entry (the newest); the rest are only counted.
EVENTS_PER_ENTRY = 100
UNKNOWN_TASK = "unknown"
FIELD_SEP = "|"
_NAME_MAX = 200
_ERROR_MAX = 500


@dataclass(slots=True)
class EventBatch:
    """What one flush writes. Noting a task is a list append; the aggregation into counters,
    histogram buckets and one stream entry per event kind happens once, in ``script_args``."""

    started: list[str] = field(default_factory=list)
    # (event, task name, task id, queue, seconds run or None, details or None)
    finished: list[tuple[str, str, str | None, str | None, float | None, Any]] = field(
        default_factory=list
    )
    failures: list[bytes] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.finished)

    def script_args(self, conf: Config) -> list[Any]:
        """ARGV of ``record_events.lua``."""
        counts: Counter[tuple[str, str]] = Counter((name, STARTED_EVENT) for name in self.started)
        buckets: Counter[tuple[str, str]] = Counter()
        sums: dict[str, float] = {}
        latest: dict[str, list[int]] = {}
        for index, (kind, name, _, _, seconds, _) in enumerate(self.finished):
            counts[name, kind] += 1
            latest.setdefault(kind, []).append(index)
            if seconds is not None:
                buckets[name, RUN_TIME_LABELS[bisect.bisect_left(RUN_TIME_BUCKETS, seconds)]] += 1
                sums[name] = sums.get(name, 0.0) + seconds
        args: list[Any] = [
            conf.events_max_length,
            conf.events_failures_max_length,
            int(conf.events_ttl * 1000),
            int(conf.events_counters_ttl * 1000),
            THROUGHPUT_BUCKET_SECONDS,
            len(counts),
            len(buckets),
            len(sums),
            len(latest),
            len(latest),
            len(self.failures),
        ]
        for pairs in (counts.items(), buckets.items()):
            for (name, field_name), n in pairs:
                args += [f"{name}{FIELD_SEP}{field_name}", n]
        for name, seconds in sums.items():
            args += [f"{name}{FIELD_SEP}sum", f"{seconds:.6f}"]
        for kind, indexes in latest.items():
            args += [kind, len(indexes)]
        # One stream entry per kind, with its newest tasks only: the counters count them all.
        for kind, indexes in latest.items():
            shown = [self._event(self.finished[i]) for i in indexes[-EVENTS_PER_ENTRY:]]
            args.append(
                orjson.dumps({"event": kind, "tasks": shown, "more": len(indexes) - len(shown)})
            )
        return args + self.failures

    @staticmethod
    def _event(noted: tuple[str, str, str | None, str | None, float | None, Any]) -> Any:
        _, name, task_id, queue, seconds, details = noted
        event: dict[str, Any] = {"task": name, "id": task_id, "queue": queue}
        if seconds is not None:
            event["runtime"] = round(seconds, 6)
        if details:
            event.update(details)
        return event


def _clip(name: str | None) -> str:
    return (name or UNKNOWN_TASK)[:_NAME_MAX]


def _identify(raw: bytes) -> tuple[str, str | None]:
    try:
        message = decode_message(raw)
    except DecodeError:
        return UNKNOWN_TASK, None
    return _clip(message.task), message.id


def _short(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict):
        return None
    return {"type": error.get("type"), "message": str(error.get("message", ""))[:_ERROR_MAX]}


class EventRecorder:
    """Buffers one worker's events between flushes; ``take`` + ``write`` persist them."""

    def __init__(
        self,
        broker: Broker,
        conf: Config,
        worker: str,
        interval: float = EVENTS_WRITE_INTERVAL,
    ) -> None:
        self.broker = broker
        self.conf = conf
        self.worker = worker
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
        self._batch.started.append(_clip(meta.name))
        self._arm()

    def record(self, meta: TaskMeta) -> None:
        """Note a record that settles no entry: a FAILURE there is a dead letter."""
        if meta.state == FAILURE:
            error = meta.error
            details = {
                "reason": "max_deliveries",
                "retries": meta.retries,
                "error": None
                if error is None
                else {"type": error.type, "message": error.message, "traceback": None},
            }
            self._failure(DEAD_LETTERED, _clip(meta.name), meta.id, meta.queue, None, details)

    def finished(self, delivery: RawDelivery, outcome: Outcome, seconds: float | None) -> None:
        """Note how a delivery ended (``seconds``: how long it ran)."""
        meta = outcome.record[0] if outcome.record is not None else None
        task_id: str | None
        if meta is not None:
            name, task_id = _clip(meta.name), meta.id
        else:
            name, task_id = _identify(delivery.raw)
        state = outcome.state
        if state == SUCCESS:
            self._batch.finished.append((SUCCEEDED, name, task_id, delivery.queue, seconds, None))
            self._arm()
        elif state == RETRY:
            error = meta.error if meta is not None else None
            details: dict[str, Any] = {
                "retries": meta.retries if meta is not None else 0,
                "error": None if error is None else {"type": error.type, "message": error.message},
            }
            self._batch.finished.append(
                (RETRIED, name, task_id, delivery.queue, seconds, _errors(details))
            )
            self._arm()
        else:
            details = _details(outcome.op.extra)
            kind = FAILED if details.get("reason") == "failed" else DEAD_LETTERED
            self._failure(kind, name, task_id, delivery.queue, seconds, details)

    def _failure(
        self,
        kind: str,
        name: str,
        task_id: str | None,
        queue: str | None,
        seconds: float | None,
        details: dict[str, Any],
    ) -> None:
        if kind == DEAD_LETTERED:
            seconds = None  # it never ran as a task
        self._batch.finished.append((kind, name, task_id, queue, seconds, _errors(details)))
        document = {"event": kind, "task": name, "id": task_id, "queue": queue, **details}
        self._batch.failures.append(orjson.dumps({**document, "worker": self.worker}))
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
        """Persist a batch in one script call (a refused batch is logged and dropped:
        monitoring never stops a worker; a lost connection raises, so the flush retries)."""
        keys = self.broker.keys
        names = [keys.events, keys.failures, keys.event_counts, keys.run_times]
        try:
            await self.broker.scripts["record_events"](
                keys=[*names, keys.throughput_prefix], args=batch.script_args(self.conf)
            )
        except ResponseError as exc:
            log.warning("events_write_failed", error=str(exc))


def _errors(details: dict[str, Any]) -> dict[str, Any]:
    # What the events stream keeps of the details: the error without its traceback.
    return {**details, "error": _short(details.get("error"))}


def _details(extra: bytes) -> dict[str, Any]:
    # The dead-letter details the executor wrote (reason, error with traceback, retries...).
    try:
        details = orjson.loads(extra)
    except orjson.JSONDecodeError:
        return {"reason": "unknown"}
    if not isinstance(details, dict):
        return {"reason": "unknown"}
    return {k: details.get(k) for k in ("reason", "error", "retries", "deliveries")}
