"""What is in the queues: counts and ages for monitoring, and whether any work is left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from redis.asyncio import Redis

from waasp.runtime.broker.replies import entry_ms, text
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.keys import GROUP, Keys


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

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _count(reply: Any) -> int:
    # A reply of a pipeline run with raise_on_error=False may be an exception.
    return int(reply) if isinstance(reply, int) else 0


async def queue_stats(
    client: Redis,
    keys: Keys,
    names: Sequence[str],
    consumers: Mapping[str, int],
    scripts: Scripts,
) -> list[QueueStats]:
    """Counts for each queue of ``names``, from two round trips whatever their number (three
    on a cluster); ``consumers`` gives the live workers per queue."""
    if not names:
        return []
    clock = not in_pipeline(client)
    if clock:  # ages by the clock of the node that holds the first queue
        now_ms = await scripts.clock_ms(client, keys.queue(names[0]).stream)
    async with client.pipeline(transaction=False) as pipe:
        if not clock:
            pipe.time()
        pipe.smembers(keys.paused)
        for name in names:
            q = keys.queue(name)
            pipe.xlen(q.stream)
            pipe.xinfo_groups(q.stream)
            pipe.zcard(q.delayed)
            pipe.xlen(q.dead)
            pipe.get(q.dead_trimmed)
        replies = await pipe.execute(raise_on_error=False)
    if not clock:
        seconds, micros = replies.pop(0)
        now_ms = seconds * 1000 + micros // 1000
    members = replies.pop(0)
    paused = {text(q) for q in members} if isinstance(members, set | list) else set()
    out: list[QueueStats] = []
    cursors: list[tuple[int, str]] = []
    for i, name in enumerate(names):
        length, groups, delayed, dead, trimmed = replies[5 * i : 5 + 5 * i]
        group = (
            next((g for g in groups if text(g.get("name")) == GROUP), None)
            if isinstance(groups, list)
            else None
        )
        pending = int(group["pending"]) if group else 0
        waiting = max(_count(length) - pending, 0)
        if group and waiting:
            cursors.append((i, text(group["last-delivered-id"])))
        out.append(
            QueueStats(
                name,
                waiting,
                pending,
                _count(delayed),
                _count(dead),
                None,
                consumers.get(name, 0),
                int(trimmed) if isinstance(trimmed, bytes | str | int) else 0,
                name in paused,
            )
        )
    if cursors:
        # The oldest waiting entry is the first one after the group's last delivered id.
        async with client.pipeline(transaction=False) as pipe:
            for i, last in cursors:
                pipe.xrange(keys.queue(names[i]).stream, f"({last}", "+", count=1)
            firsts = await pipe.execute(raise_on_error=False)
        for (i, _), first in zip(cursors, firsts, strict=True):
            if isinstance(first, list) and first:
                age = max(now_ms - entry_ms(text(first[0][0])), 0) / 1000
                out[i] = replace(out[i], oldest_waiting_age=age)
    return out


async def idle(client: Redis, keys: Keys, queues: Sequence[str]) -> bool:
    """Tell whether nothing is delayed or held in ``queues``, in one round trip."""
    async with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            q = keys.queue(queue)
            pipe.zcard(q.delayed)
            pipe.xpending(q.stream, GROUP)
        # A missing group (Redis lost its data) is not idle: the reader recreates it.
        replies = await pipe.execute(raise_on_error=False)
    if any(isinstance(reply, Exception) for reply in replies):
        return False
    for delayed, pending in zip(replies[::2], replies[1::2], strict=True):
        if delayed or (pending and pending.get("pending")):
            return False
    return True
