"""What is queued, delayed, in flight and dead, and who is working: O(queues + workers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import orjson

from waasp.runtime.keys import GROUP, check_queue_name
from waasp.runtime.message import decode_dead_letter
from waasp.runtime.monitor.views import dead_letter_dict

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts of one queue."""

    name: str
    waiting: int
    in_flight: int
    delayed: int
    dead: int
    oldest_waiting_age: float | None  # seconds, by the Redis server's clock
    consumers: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_ms(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


async def queue_stats(runtime: Runtime, queues: list[str] | None = None) -> list[QueueStats]:
    """Counts for each known queue (or the given ones), from a constant number of commands."""
    client = runtime.broker.client
    names = queues or await runtime.broker.known_queues()
    async with client.pipeline(transaction=False) as pipe:
        pipe.time()
        for name in names:
            q = runtime.keys.queue(name)
            pipe.xlen(q.stream)
            pipe.xinfo_groups(q.stream)
            pipe.zcard(q.delayed)
            pipe.xlen(q.dead)
        replies = await pipe.execute(raise_on_error=False)
    seconds, micros = replies[0]
    now_ms = seconds * 1000 + micros // 1000
    out: list[QueueStats] = []
    cursors: list[tuple[int, str]] = []
    for i, name in enumerate(names):
        length, groups, delayed, dead = replies[1 + 4 * i : 5 + 4 * i]
        group = (
            next((g for g in groups if _text(g.get("name")) == GROUP), None)
            if isinstance(groups, list)
            else None
        )
        pending = int(group["pending"]) if group else 0
        consumers = int(group["consumers"]) if group else 0
        waiting = max(int(length) - pending, 0) if isinstance(length, int) else 0
        if group and waiting:
            cursors.append((i, _text(group["last-delivered-id"])))
        out.append(
            QueueStats(
                name,
                waiting,
                pending,
                int(delayed) if isinstance(delayed, int) else 0,
                int(dead) if isinstance(dead, int) else 0,
                None,
                consumers,
            )
        )
    if cursors:
        async with client.pipeline(transaction=False) as pipe:
            for i, last in cursors:
                pipe.xrange(runtime.keys.queue(names[i]).stream, f"({last}", "+", count=1)
            firsts = await pipe.execute(raise_on_error=False)
        for (i, _), first in zip(cursors, firsts, strict=True):
            if isinstance(first, list) and first:
                age = max(now_ms - _entry_ms(_text(first[0][0])), 0) / 1000
                stats = out[i]
                out[i] = QueueStats(
                    stats.name,
                    stats.waiting,
                    stats.in_flight,
                    stats.delayed,
                    stats.dead,
                    age,
                    stats.consumers,
                )
    return out


_NUMERIC = {"pid", "concurrency", "held", "running", "done", "failed", "retried", "stalled"}
_FLOAT = {"started_at", "loop_age", "last_heartbeat"}


async def workers(runtime: Runtime) -> list[dict[str, Any]]:
    """Live workers (heartbeat not expired), with their figures."""
    client = runtime.broker.client
    names = [_text(n) for n in await client.zrange(runtime.keys.workers, 0, -1)]
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(runtime.keys.worker(name))
        hashes = await pipe.execute()
    out: list[dict[str, Any]] = []
    for raw in hashes:
        if not raw:
            continue  # expired between the two reads
        info: dict[str, Any] = {}
        for key, value in raw.items():
            field, text = _text(key), _text(value)
            if field in _NUMERIC:
                info[field] = int(float(text))
            elif field in _FLOAT:
                info[field] = float(text)
            elif field == "queues":
                info[field] = orjson.loads(text)
            else:
                info[field] = text
        info["stalled"] = bool(info.get("stalled"))
        info["in_flight"] = info.get("held", 0)
        out.append(info)
    return out


async def dead_letter_page(
    runtime: Runtime, queue: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of dead letters, newest first across queues, and their total: one round trip
    for the known queues, reading at most ``offset + limit`` entries per queue."""
    client = runtime.broker.client
    names = [check_queue_name(queue)] if queue else await runtime.broker.known_queues()
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            dead = runtime.keys.queue(name).dead
            pipe.xlen(dead)
            pipe.xrevrange(dead, "+", "-", count=offset + limit)
        replies = await pipe.execute()
    letters = [
        decode_dead_letter(name, f"{name}:{_text(entry_id)}", fields)
        for name, entries in zip(names, replies[1::2], strict=True)
        for entry_id, fields in entries
    ]
    letters.sort(key=lambda letter: _order(letter.id), reverse=True)
    return {
        "dead_letters": [dead_letter_dict(x) for x in letters[offset : offset + limit]],
        "total": sum(int(n) for n in replies[::2]),
        "limit": limit,
        "offset": offset,
    }


def _order(dead_id: str) -> tuple[int, int]:
    ms, _, seq = dead_id.rpartition(":")[2].partition("-")
    return int(ms), int(seq or 0)
