"""Reading the queues' streams: plain reads across queues (and the streams of their other
priorities), and reads of one queue's priorities best first, in one script per queue."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from waasp.runtime.broker.errors import group_errors
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.keys import GROUP, Keys

MESSAGE_FIELD = b"message"
# The due time (epoch µs, the server's clock) of a message promoted before it (promote.lua).
DUE_FIELD = b"due"
MAX_DUE_US = 1 << 62  # far beyond any real due time, well inside a float's range


@dataclass(frozen=True, slots=True)
class RawDelivery:
    """An entry as read from a queue's stream, not yet decoded."""

    queue: str
    entry_id: str
    raw: bytes
    deliveries: int = 1
    priority: int = 0  # the stream it is in: the queue's own (0) or a priority's
    due_us: int = 0  # promoted before its due time (epoch µs, Redis's clock): hold it till then

    @property
    def lane(self) -> tuple[str, int]:
        """The stream it is in, as (queue, priority): entry ids are unique per stream."""
        return self.queue, self.priority


async def read_streams(
    client: Redis,
    keys: Keys,
    queues: Sequence[str],
    lanes: Sequence[tuple[str, int]],
    consumer: str,
    count: int,
    block_ms: int | None,
) -> list[RawDelivery]:
    """One XREADGROUP of the queues' streams and of the streams of ``lanes``."""
    by_stream = {keys.queue(q).stream: (q, 0) for q in queues}
    for queue, priority in lanes:
        by_stream[keys.queue(queue).stream_at(priority)] = (queue, priority)
    with group_errors():
        reply = await client.xreadgroup(
            GROUP, consumer, dict.fromkeys(by_stream, ">"), count=count, block=block_ms
        )
    out: list[RawDelivery] = []
    for stream, entries in reply or ():
        queue, priority = by_stream[text(stream)]
        for entry_id, fields in entries:
            if not fields:
                out.append(RawDelivery(queue, text(entry_id), b"", priority=priority))
                continue
            raw = fields.get(MESSAGE_FIELD, b"")
            due = due_time(fields.get(DUE_FIELD))
            out.append(RawDelivery(queue, text(entry_id), raw, priority=priority, due_us=due))
    return out


async def read_best(
    client: Redis,
    keys: Keys,
    scripts: Scripts,
    queues: Mapping[str, Sequence[int]],
    consumer: str,
    count: int,
) -> list[RawDelivery]:
    """``lua/read_levels.lua`` on each queue (its priorities: 0 and ``queues[queue]``): one
    call for one queue, else one pipeline (which checks its scripts first: a second round
    trip), or on a cluster one call per queue at once."""
    calls = []
    for queue, levels in queues.items():
        q = keys.queue(queue)
        calls.append(
            ([q.stream_at(level) for level in (0, *levels)], [GROUP, consumer, count, 0, *levels])
        )
    with group_errors():
        if len(calls) == 1:
            replies = [await scripts.read_levels(keys=calls[0][0], args=calls[0][1])]
        elif not in_pipeline(client):  # a cluster: each queue's script on its own node
            replies = await asyncio.gather(
                *(scripts.read_levels(keys=streams, args=args) for streams, args in calls)
            )
        else:
            async with client.pipeline(transaction=False) as pipe:
                for streams, args in calls:
                    await scripts.read_levels(keys=streams, args=args, client=pipe)
                replies = await pipe.execute()
    return [
        RawDelivery(
            queue,
            text(flat[i + 1]),
            flat[i + 2] or b"",
            priority=int(flat[i]),
            due_us=due_time(flat[i + 3]),
        )
        for queue, flat in zip(queues, replies, strict=True)
        for i in range(0, len(flat), 4)
    ]


def due_time(raw: Any) -> int:
    """An entry's due time (epoch µs), 0 if it has none or one that is not a plausible one:
    anyone can write a stream entry, and a hostile one must not stop the reader."""
    if not raw:
        return 0
    try:
        due = int(raw)
    except ValueError:
        return 0
    return due if 0 < due < MAX_DUE_US else 0


def deliveries(queue: str, flat: Sequence[Any], priority: int) -> list[RawDelivery]:
    """Deliveries from a script's flat ``{id, message, deliveries, ...}`` reply."""
    return [
        RawDelivery(queue, text(flat[i]), flat[i + 1] or b"", int(flat[i + 2]), priority)
        for i in range(0, len(flat), 3)
    ]
