"""Reading the task events back: recent events and failures, counters, run times,
throughput (written by ``waasp.runtime.monitor.events``). Each read costs O(task names + buckets +
the page asked for), never O(tasks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from waasp.runtime.monitor.events import (
    FIELD_SEP,
    FINISH_EVENTS,
    RUN_TIME_LABELS,
    THROUGHPUT_BUCKET_SECONDS,
)

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_entries(entries: list[Any], limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry_id, fields in entries:
        try:
            document = orjson.loads(fields.get(b"event", b"{}"))
        except orjson.JSONDecodeError:
            continue
        if not isinstance(document, dict):
            continue
        text = _text(entry_id)
        when = int(text.partition("-")[0]) / 1000
        # An events entry holds one kind's tasks of one flush; a failures entry one task.
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


async def recent_events(runtime: Runtime, limit: int = 100) -> list[dict[str, Any]]:
    """The newest ``limit`` events, newest first; each has its server ``time`` (epoch s).

    An entry holds up to EVENTS_PER_ENTRY events, so this reads entries a few at a time and
    stops once it has ``limit``: O(limit), however busy the workers are.
    """
    client = runtime.broker.client
    out: list[dict[str, Any]] = []
    end = "+"
    while len(out) < limit:
        count = min(max(limit - len(out), 1), 50)
        entries = await client.xrevrange(runtime.keys.events, end, "-", count=count)
        out += _decode_entries(entries, limit - len(out))
        if len(entries) < count:
            break
        end = "(" + _text(entries[-1][0])
    return out


async def recent_failures(runtime: Runtime, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` failures and dead letters, with their tracebacks."""
    entries = await runtime.broker.client.xrevrange(runtime.keys.failures, "+", "-", count=limit)
    return _decode_entries(entries, limit)


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


async def task_counters(runtime: Runtime) -> TaskCounters:
    """Read the counters and the run-time histograms (one round trip)."""
    keys = runtime.keys
    async with runtime.broker.client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.event_counts)
        pipe.hgetall(keys.run_times)
        raw_counts, raw_times = await pipe.execute()
    counts: dict[str, dict[str, int]] = {}
    for key, value in raw_counts.items():
        name, _, event = _text(key).rpartition(FIELD_SEP)
        counts.setdefault(name, {})[event] = int(value)
    per_bucket: dict[str, dict[str, int]] = {}
    sums: dict[str, float] = {}
    for key, value in raw_times.items():
        name, _, le = _text(key).rpartition(FIELD_SEP)
        if le == "sum":
            sums[name] = float(value)
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


async def throughput(runtime: Runtime, minutes: int = 10) -> dict[str, Any]:
    """Finished deliveries per event kind in each bucket of the last ``minutes``, oldest
    first, by the Redis server's clock."""
    client = runtime.broker.client
    seconds, _ = await client.time()
    width = THROUGHPUT_BUCKET_SECONDS
    newest = int(seconds) - int(seconds) % width
    starts = list(range(newest - (minutes * 60 // width - 1) * width, newest + 1, width))
    async with client.pipeline(transaction=False) as pipe:
        for start in starts:
            pipe.hgetall(runtime.keys.throughput(start))
        hashes = await pipe.execute()
    buckets = []
    for start, found in zip(starts, hashes, strict=True):
        row: dict[str, Any] = {"time": start}
        counts = {_text(k): int(v) for k, v in found.items()}
        row.update({kind: counts.get(kind, 0) for kind in FINISH_EVENTS})
        buckets.append(row)
    return {"bucket_seconds": width, "buckets": buckets}
