"""What is in the queues: counts and ages for monitoring, and whether any work is left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from redis.asyncio import Redis

from waasp.runtime.broker.replies import entry_ms, text
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.priorities import LEVELS


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts of one queue."""

    name: str
    waiting: int
    in_flight: int
    delayed: int
    dead: int
    oldest_waiting_age: float | None  # seconds, by the Redis server's clock
    consumers: int  # live workers (heartbeat not expired) that consume this queue
    dead_trimmed: int = 0  # dead letters removed by the dlq_max_len cap (a counter)
    paused: bool = False  # workers do not read it (runtime.control.pause)
    # Waiting per priority ("0".."9") when the queue uses priorities other than 0, else empty.
    waiting_by_priority: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _count(reply: Any) -> int:
    # A reply of a pipeline run with raise_on_error=False may be an exception.
    return int(reply) if isinstance(reply, int) else 0


async def levels_in_use(
    client: Redis, keys: Keys, queues: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """The priorities other than 0 each queue has used, best first: those whose stream exists
    (a send makes it; settling empties it but leaves it). One round trip, and one EXISTS per
    queue, when none has; a second round trip tells which, when some have."""
    async with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.exists(*level_streams(keys, queue))
        counts = await pipe.execute()
    used = [queue for queue, count in zip(queues, counts, strict=True) if count]
    found: dict[str, tuple[int, ...]] = dict.fromkeys(queues, ())
    if used:
        async with client.pipeline(transaction=False) as pipe:
            for queue in used:
                for stream in level_streams(keys, queue):
                    pipe.exists(stream)
            hits = iter(await pipe.execute())
        for queue in used:
            found[queue] = tuple(level for level in LEVELS[1:] if next(hits))
    return found


def level_streams(keys: Keys, queue: str) -> list[str]:
    """The streams of ``queue``'s priorities other than 0 (1 to 9), existing or not."""
    q = keys.queue(queue)
    return [q.stream_at(level) for level in LEVELS[1:]]


async def queue_stats(
    client: Redis,
    keys: Keys,
    names: Sequence[str],
    consumers: Mapping[str, int],
    scripts: Scripts,
) -> list[QueueStats]:
    """Counts for each queue of ``names``, summed over its priorities' streams, from three
    round trips whatever their number (four on a cluster); ``consumers`` gives the live
    workers per queue."""
    if not names:
        return []
    levels = await levels_in_use(client, keys, names)
    lanes = [(i, level) for i, name in enumerate(names) for level in (0, *levels[name])]
    clock = not in_pipeline(client)
    if clock:  # a cluster: ages by the clock of the node that holds the first queue
        now_ms = await scripts.clock_ms(client, keys.queue(names[0]).stream)
    async with client.pipeline(transaction=False) as pipe:
        if not clock:
            pipe.time()
        pipe.smembers(keys.paused)
        for name in names:
            q = keys.queue(name)
            pipe.zcard(q.delayed)
            pipe.xlen(q.dead)
            pipe.get(q.dead_trimmed)
        for i, level in lanes:
            stream = keys.queue(names[i]).stream_at(level)
            pipe.xlen(stream)
            pipe.xinfo_groups(stream)
        replies = await pipe.execute(raise_on_error=False)
    if not clock:
        seconds, micros = replies.pop(0)
        now_ms = seconds * 1000 + micros // 1000
    members = replies.pop(0)
    paused = {text(q) for q in members} if isinstance(members, set | list) else set()
    streams = replies[3 * len(names) :]
    waiting = [0] * len(names)
    pending = [0] * len(names)
    by_level: list[dict[str, int]] = [{} for _ in names]
    cursors: list[tuple[int, str, str]] = []
    for (i, level), length, info in zip(lanes, streams[::2], streams[1::2], strict=True):
        group = workers_group(info)
        held = int(group["pending"]) if group else 0
        ready = max(_count(length) - held, 0)
        waiting[i] += ready
        pending[i] += held
        by_level[i][str(level)] = ready
        if group and ready:
            stream = keys.queue(names[i]).stream_at(level)
            cursors.append((i, stream, text(group["last-delivered-id"])))
    out = [
        QueueStats(
            name,
            waiting[i],
            pending[i],
            _count(replies[3 * i]),
            _count(replies[1 + 3 * i]),
            None,
            consumers.get(name, 0),
            _number(replies[2 + 3 * i]),
            name in paused,
            by_level[i] if len(by_level[i]) > 1 else {},
        )
        for i, name in enumerate(names)
    ]
    return await _with_ages(client, out, cursors, now_ms)


async def _with_ages(
    client: Redis, out: list[QueueStats], cursors: list[tuple[int, str, str]], now_ms: int
) -> list[QueueStats]:
    """``out`` with each queue's oldest waiting age: the oldest waiting entry of a stream is
    the first one after the group's last delivered id; the queue's is the oldest of its
    streams'."""
    if not cursors:
        return out
    async with client.pipeline(transaction=False) as pipe:
        for _, stream, last in cursors:
            pipe.xrange(stream, f"({last}", "+", count=1)
        firsts = await pipe.execute(raise_on_error=False)
    for (i, _, _), first in zip(cursors, firsts, strict=True):
        if isinstance(first, list) and first:
            age = max(now_ms - entry_ms(text(first[0][0])), 0) / 1000
            current = out[i].oldest_waiting_age
            if current is None or age > current:
                out[i] = replace(out[i], oldest_waiting_age=age)
    return out


def workers_group(groups: Any) -> dict[Any, Any] | None:
    """The workers' consumer group from an XINFO GROUPS reply (None: no group, no stream)."""
    if not isinstance(groups, list):  # the stream is missing: an error reply
        return None
    return next((g for g in groups if text(g.get("name")) == GROUP), None)


def _number(reply: Any) -> int:
    return int(reply) if isinstance(reply, bytes | str | int) else 0


async def idle(
    client: Redis, keys: Keys, queues: Sequence[str], lanes: Sequence[tuple[str, int]] = ()
) -> bool:
    """Tell whether nothing is delayed or held in ``queues``, nor held in the streams of
    ``lanes`` (queue, priority other than 0), in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.zcard(keys.queue(queue).delayed)
        for queue in queues:
            pipe.xpending(keys.queue(queue).stream, GROUP)
        for queue, priority in lanes:
            pipe.xpending(keys.queue(queue).stream_at(priority), GROUP)
        # A missing group (Redis lost its data) is not idle: the reader recreates it.
        replies = await pipe.execute(raise_on_error=False)
    if any(isinstance(reply, Exception) for reply in replies):
        return False
    delayed, pending = replies[: len(queues)], replies[len(queues) :]
    return not any(delayed) and not any(p and p.get("pending") for p in pending)
