"""Task events in Redis: what a worker writes (``lua/record_events.lua``) and what monitoring
reads back (recent events and failures, counters, run times, throughput).

The events stream holds one entry per event kind per write (its newest tasks); failures
also go, one entry each with the traceback, to a stream of their own. Everything is capped or
expires: the events stream by ``events_max_length`` and ``events_ttl``, the failures stream
by ``events_failures_max_length``, the counters by ``events_counters_ttl``: each task name's
counters and run times are removed that long after its last event, and the hashes themselves
expire that long after the last write. Counters are kept per registered task name only
(anything else counts as ``<unknown>``), so junk messages cannot grow them. Readers cost
O(task names + buckets + the page asked for), never O(tasks).
"""

from __future__ import annotations

import asyncio
import bisect
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from redis.asyncio import Redis

from waasp.runtime.broker.event_shards import merged, newest
from waasp.runtime.broker.replies import entry_ms, text
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.config import Config
from waasp.runtime.keys import Keys
from waasp.runtime.message import RemoteError


class EventKind(StrEnum):
    """What happened to a task; every kind but ``started`` ends a delivery."""

    STARTED = "started"
    SUCCEEDED = "succeeded"
    RETRIED = "retried"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    REVOKED = "revoked"  # revoked, terminated or expired (the reason says which)


FINISH_EVENTS = (
    EventKind.SUCCEEDED,
    EventKind.RETRIED,
    EventKind.FAILED,
    EventKind.DEAD_LETTERED,
    EventKind.REVOKED,
)
FAILURE_EVENTS = frozenset({EventKind.FAILED, EventKind.DEAD_LETTERED})
# Upper bounds (seconds) of the run-time histogram; background tasks run long.
RUN_TIME_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_TIME_LABELS = (*(f"{b:g}" for b in RUN_TIME_BUCKETS), "+Inf")
THROUGHPUT_BUCKET_SECONDS = 10
# Tasks of one kind kept in one events entry (the newest); the rest are only counted.
EVENTS_PER_ENTRY = 100
# Separates the task name from the event or bucket in a counter's hash field.
FIELD_SEP = "|"
# The one name counters keep for tasks no worker has registered (and undecodable messages).
UNKNOWN_TASK = "<unknown>"
# Every field a task name can have in the counts hash, and in the run-time hash.
COUNT_SUFFIXES = tuple(f"{FIELD_SEP}{kind}" for kind in EventKind)
RUN_TIME_SUFFIXES = (*(f"{FIELD_SEP}{le}" for le in RUN_TIME_LABELS), f"{FIELD_SEP}sum")
_ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """How one delivery ended."""

    kind: EventKind
    task: str
    task_id: str | None
    queue: str | None
    seconds: float | None = None  # how long it ran; None if it never ran as a task
    retries: int = 0
    error: RemoteError | None = None
    reason: str | None = None  # why it was dead-lettered, or revoked
    deliveries: int = 0  # of a dead letter
    registered: bool = True  # False: counted as UNKNOWN_TASK (its own name stays in the streams)

    @property
    def counted_as(self) -> str:
        """The name its counters and run times are kept under."""
        return self.task if self.registered else UNKNOWN_TASK

    def details(self, *, traceback: bool) -> dict[str, Any]:
        """What the kind says beyond the task: retries, the error, why it died."""
        error: dict[str, Any] | None = None
        if self.error is not None:
            error = (
                self.error.as_dict()
                if traceback
                else {"type": self.error.type, "message": self.error.message[:_ERROR_MAX]}
            )
        if self.kind is EventKind.RETRIED:
            return {"retries": self.retries, "error": error}
        if self.kind is EventKind.REVOKED:
            return {"reason": self.reason}
        if self.kind in FAILURE_EVENTS:
            return {
                "reason": self.reason,
                "error": error,
                "retries": self.retries,
                "deliveries": self.deliveries,
            }
        return {}


@dataclass(slots=True)
class EventBatch:
    """What one write records: the names of tasks started, and how deliveries ended."""

    started: list[str] = field(default_factory=list)
    finished: list[TaskEvent] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.finished)


def record_events_args(batch: EventBatch, conf: Config, worker: str) -> list[Any]:
    """ARGV of ``record_events.lua``: the batch aggregated into counters, histogram buckets
    and one stream entry per event kind (its newest tasks), then its failures, then the task
    names counted and the fields each name has (to remove those of names gone quiet)."""
    counts: Counter[tuple[str, str]] = Counter((name, EventKind.STARTED) for name in batch.started)
    buckets: Counter[tuple[str, str]] = Counter()
    sums: dict[str, float] = {}
    latest: dict[EventKind, list[TaskEvent]] = {}
    for event in batch.finished:
        name = event.counted_as
        counts[name, event.kind] += 1
        latest.setdefault(event.kind, []).append(event)
        if event.seconds is not None:
            label = RUN_TIME_LABELS[bisect.bisect_left(RUN_TIME_BUCKETS, event.seconds)]
            buckets[name, label] += 1
            sums[name] = sums.get(name, 0.0) + event.seconds
    failures = [_failure(e, worker) for e in batch.finished if e.kind in FAILURE_EVENTS]
    names = sorted({name for name, _ in counts})
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
        len(failures),
        len(names),
        len(COUNT_SUFFIXES),
        len(RUN_TIME_SUFFIXES),
    ]
    for pairs in (counts.items(), buckets.items()):
        for (name, field_name), n in pairs:
            args += [f"{name}{FIELD_SEP}{field_name}", n]
    for name, seconds in sums.items():
        args += [f"{name}{FIELD_SEP}sum", f"{seconds:.6f}"]
    for kind, events in latest.items():
        args += [kind, len(events)]
    for kind, events in latest.items():
        shown = [_shown(e) for e in events[-EVENTS_PER_ENTRY:]]
        args.append(orjson.dumps({"event": kind, "tasks": shown, "more": len(events) - len(shown)}))
    return [*args, *failures, *names, *COUNT_SUFFIXES, *RUN_TIME_SUFFIXES]


def _shown(event: TaskEvent) -> dict[str, Any]:
    """An event as its kind's stream entry lists it: no traceback."""
    shown: dict[str, Any] = {"task": event.task, "id": event.task_id, "queue": event.queue}
    if event.seconds is not None:
        shown["runtime"] = round(event.seconds, 6)
    return shown | event.details(traceback=False)


def _failure(event: TaskEvent, worker: str) -> bytes:
    """A failure's own entry in the failures stream, traceback included."""
    document = {"event": event.kind, "task": event.task, "id": event.task_id}
    document |= {"queue": event.queue, **event.details(traceback=True), "worker": worker}
    return orjson.dumps(document)


@dataclass(frozen=True, slots=True)
class RunTimes:
    """One task's run-time histogram: cumulative ``(le, count)`` pairs and the sum."""

    buckets: list[tuple[str, int]]
    sum: float

    @property
    def count(self) -> int:
        """How many runs were observed."""
        return self.buckets[-1][1] if self.buckets else 0


@dataclass(frozen=True, slots=True)
class TaskCounters:
    """Tasks per name and event, and run times per name, cluster-wide."""

    counts: dict[str, dict[str, int]]
    run_times: dict[str, RunTimes]


@dataclass(frozen=True, slots=True)
class EventStore:
    """The event streams and counters of one key prefix."""

    client: Redis
    keys: Keys
    scripts: Scripts
    shards: int = 1  # event key sets (Keys.events_shard); readers merge them all
    # How far the server's clock is ahead of this process's (seconds), as last seen.
    _skew: list[float] = field(default_factory=lambda: [0.0])

    def _all(self) -> list[Keys]:
        return [self.keys.events_shard(n) for n in range(self.shards)]

    async def record(self, batch: EventBatch, conf: Config, worker: str) -> None:
        """Write ``worker``'s batch in one step (the throughput bucket, by the server's clock,
        is declared: a guess from the last skew seen, called again if it was wrong)."""
        keys = self.keys.events_shard(zlib.crc32(worker.encode()) % self.shards)
        names = [keys.events, keys.failures, keys.event_counts, keys.run_times]
        args = record_events_args(batch, conf, worker)
        width = THROUGHPUT_BUCKET_SECONDS
        for _ in range(3):
            now = int(time.time() + self._skew[0])
            bucket = keys.throughput(now - now % width)
            now_ms = int(
                await self.scripts.record_events(keys=[*names, bucket, keys.event_names], args=args)
            )
            self._skew[0] = abs(now_ms) / 1000 - time.time()
            if now_ms >= 0:
                return

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` events, newest first; each has its server ``time`` (epoch s).

        An entry holds up to EVENTS_PER_ENTRY events, so this reads entries a few at a time and
        stops once it has ``limit``: O(limit), however busy the workers are (times shards).
        """
        found = await asyncio.gather(*(self._recent(k.events, limit) for k in self._all()))
        return newest(found, limit)

    async def _recent(self, stream: str, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        end = "+"
        while len(out) < limit:
            count = min(max(limit - len(out), 1), 50)
            entries = await self.client.xrevrange(stream, end, "-", count=count)
            out += _decode_entries(entries, limit - len(out))
            if len(entries) < count:
                break
            end = "(" + text(entries[-1][0])
        return out

    async def failures(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` failures and dead letters, with their tracebacks."""
        found = await asyncio.gather(
            *(self.client.xrevrange(k.failures, "+", "-", count=limit) for k in self._all())
        )
        return newest([_decode_entries(entries, limit) for entries in found], limit)

    async def counters(self) -> TaskCounters:
        """The counters and the run-time histograms (one round trip)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for keys in self._all():
                pipe.hgetall(keys.event_counts)
                pipe.hgetall(keys.run_times)
            replies = await pipe.execute()
        counts: dict[str, dict[str, int]] = {}
        for key, value in merged(replies[0::2]).items():
            name, _, event = key.rpartition(FIELD_SEP)
            counts.setdefault(name, {})[event] = int(value)
        per_bucket: dict[str, dict[str, int]] = {}
        sums: dict[str, float] = {}
        for key, value in merged(replies[1::2]).items():
            name, _, le = key.rpartition(FIELD_SEP)
            if le == "sum":
                sums[name] = value
            else:
                per_bucket.setdefault(name, {})[le] = int(value)
        run_times: dict[str, RunTimes] = {}
        for name, found in per_bucket.items():
            total = 0
            cumulative: list[tuple[str, int]] = []
            for le in RUN_TIME_LABELS:
                total += found.get(le, 0)
                cumulative.append((le, total))
            run_times[name] = RunTimes(cumulative, sums.get(name, 0.0))
        return TaskCounters(counts, run_times)

    async def throughput(self, minutes: int) -> dict[str, Any]:
        """Finished deliveries per event kind in each bucket of the last ``minutes``, oldest
        first, by the Redis server's clock."""
        seconds, _ = await self.client.time()
        width = THROUGHPUT_BUCKET_SECONDS
        newest = int(seconds) - int(seconds) % width
        starts = list(range(newest - (minutes * 60 // width - 1) * width, newest + 1, width))
        shards = self._all()
        async with self.client.pipeline(transaction=False) as pipe:
            for start in starts:
                for keys in shards:
                    pipe.hgetall(keys.throughput(start))
            hashes = await pipe.execute()
        buckets = []
        for i, start in enumerate(starts):
            row: dict[str, Any] = {"time": start}
            counts = merged(hashes[i * len(shards) : (i + 1) * len(shards)])
            row.update({kind.value: int(counts.get(kind, 0)) for kind in FINISH_EVENTS})
            buckets.append(row)
        return {"bucket_seconds": width, "buckets": buckets}


def _decode_entries(entries: list[Any], limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry_id, fields in entries:
        try:
            document = orjson.loads(fields.get(b"event", b"{}"))
        except orjson.JSONDecodeError:
            continue
        if not isinstance(document, dict):
            continue
        when = entry_ms(text(entry_id)) / 1000
        # An events entry holds one kind's tasks of one write; a failures entry one task.
        tasks = document.pop("tasks", None)
        kind = document.get("event")
        out += [
            {**task, "event": kind, "time": when}
            for task in (reversed(tasks) if isinstance(tasks, list) else [document])
            if isinstance(task, dict)
        ]
        if len(out) >= limit:
            break
    return out[:limit]
