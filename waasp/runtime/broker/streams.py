"""The Redis Streams broker: a typed facade over stream commands and the Lua scripts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker.errors import is_nogroup
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import GROUP, Keys

MESSAGE_FIELD = b"message"
PROMOTE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class RawDelivery:
    """An entry as read from a queue's stream, not yet decoded."""

    queue: str
    entry_id: str
    raw: bytes
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class SettleOp:
    """How one finished delivery leaves the stream (see ``lua/settle.lua``)."""

    kind: str  # "ack" | "retry" | "dead"
    entry_id: str
    payload: bytes = b""
    extra: bytes = b""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Broker:
    """Queue operations for one key prefix on one Redis server."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.scripts = Scripts(client)

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, queue: str, body: bytes) -> None:
        """Append a message to a queue's stream."""
        await self.client.xadd(self.keys.queue(queue).stream, {MESSAGE_FIELD: body})

    async def enqueue_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Append many messages in one round trip."""
        async with self.client.pipeline(transaction=False) as pipe:
            for queue, body in items:
                pipe.xadd(self.keys.queue(queue).stream, {MESSAGE_FIELD: body})
            await pipe.execute()

    async def schedule(
        self, queue: str, body: bytes, *, delay_ms: float | None = None, eta_ms: float | None = None
    ) -> int:
        """Hold a message in the queue's delay set until due; return the due time (epoch ms)."""
        q = self.keys.queue(queue)
        mode, when = ("in", delay_ms) if delay_ms is not None else ("at", eta_ms)
        due = await self.scripts["schedule"](
            keys=[q.delayed, q.stream], args=[body, mode, when, q.wake]
        )
        return int(due)

    async def register_queues(self, queues: Iterable[str]) -> None:
        """Record queue names so monitoring finds them."""
        names = list(queues)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.queues, *names)
            pipe.expire(self.keys.queues, 30 * 86400)
            await pipe.execute()

    async def known_queues(self) -> list[str]:
        """The queue names recorded so far, sorted."""
        return sorted(_text(q) for q in await self.client.smembers(self.keys.queues))

    # -- consume ---------------------------------------------------------------------------

    async def ensure_group(self, queue: str) -> None:
        """Create the queue's stream and consumer group if either is missing."""
        try:
            await self.client.xgroup_create(
                self.keys.queue(queue).stream, GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(
        self, queues: Sequence[str], consumer: str, count: int, block_ms: int | None
    ) -> list[RawDelivery]:
        """Read up to ``count`` new entries across ``queues`` for ``consumer``."""
        streams = {self.keys.queue(q).stream: ">" for q in queues}
        by_stream = {self.keys.queue(q).stream: q for q in queues}
        reply = await self.client.xreadgroup(GROUP, consumer, streams, count=count, block=block_ms)
        out: list[RawDelivery] = []
        for stream, entries in reply or ():
            queue = by_stream[_text(stream)]
            for entry_id, fields in entries:
                raw = fields.get(MESSAGE_FIELD, b"") if fields else b""
                out.append(RawDelivery(queue, _text(entry_id), raw))
        return out

    async def settle(self, queue: str, ops: Sequence[SettleOp]) -> int:
        """Acknowledge finished entries, with their retries and dead letters, atomically."""
        q = self.keys.queue(queue)
        args: list[Any] = [GROUP, q.wake]
        for op in ops:
            args += [op.kind, op.entry_id, op.payload, op.extra]
        return int(await self.scripts["settle"](keys=[q.stream, q.delayed, q.dead], args=args))

    async def promote(self, queue: str) -> tuple[int, int]:
        """Move due messages into the stream; return (moved, µs until next due or -1)."""
        q = self.keys.queue(queue)
        moved, wait = await self.scripts["promote"](
            keys=[q.delayed, q.stream], args=[PROMOTE_BATCH]
        )
        return int(moved), int(wait)

    async def renew(self, queue: str, consumer: str, entry_ids: Sequence[str]) -> list[str]:
        """Reset the idle time of entries ``consumer`` holds; return those it lost."""
        if not entry_ids:
            return []
        q = self.keys.queue(queue)
        lost = await self.scripts["renew"](keys=[q.stream], args=[GROUP, consumer, *entry_ids])
        return [_text(i) for i in lost]

    async def reclaim(
        self, queue: str, consumer: str, min_idle_ms: int, count: int, max_deliveries: int
    ) -> tuple[list[RawDelivery], list[RawDelivery]]:
        """Claim entries idle longer than ``min_idle_ms``; return (claimed, dead-lettered)."""
        q = self.keys.queue(queue)
        claimed: list[RawDelivery] = []
        dead: list[RawDelivery] = []
        start = "0-0"
        while count > len(claimed):
            cursor, got, died = await self.scripts["reclaim"](
                keys=[q.stream, q.dead],
                args=[GROUP, consumer, min_idle_ms, count - len(claimed), max_deliveries, start],
            )
            claimed += _triples(queue, got)
            dead += _triples(queue, died)
            start = _text(cursor)
            if start == "0-0":
                break
        return claimed, dead

    async def release(self, queue: str, consumer: str, entry_ids: Sequence[str]) -> int:
        """Put entries back at the stream's tail for other workers; return how many."""
        if not entry_ids:
            return 0
        q = self.keys.queue(queue)
        return int(
            await self.scripts["release"](keys=[q.stream], args=[GROUP, consumer, *entry_ids])
        )

    async def owned(self, queue: str, consumer: str, count: int = 10_000) -> list[str]:
        """Ids of the entries ``consumer`` holds in ``queue``."""
        try:
            rows = await self.client.xpending_range(
                self.keys.queue(queue).stream, GROUP, "-", "+", count, consumername=consumer
            )
        except ResponseError as exc:
            if is_nogroup(exc):
                return []
            raise
        return [_text(row["message_id"]) for row in rows]


def _triples(queue: str, flat: Sequence[Any]) -> list[RawDelivery]:
    return [
        RawDelivery(queue, _text(flat[i]), flat[i + 1] or b"", int(flat[i + 2]))
        for i in range(0, len(flat), 3)
    ]
