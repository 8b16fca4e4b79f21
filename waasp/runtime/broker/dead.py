"""The dead-letter streams: one per queue, capped by ``dlq_max_len``, read newest first across
queues.

A dead letter's id is ``QUEUE:ENTRY_ID``: its queue and its entry in that queue's stream. A
stream past its cap loses its oldest entries (``trim``), which are logged and counted per
queue, so a flood of failures cannot push Redis into OOM unseen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from waasp.runtime.broker.replies import entry_order, text
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.broker.stream_ids import parse_entry_id
from waasp.runtime.errors import DeadLetterNotFound, TaskRuntimeError
from waasp.runtime.keys import Keys, check_queue_name
from waasp.runtime.message import (
    DeadLetter,
    DeadLetterRecord,
    RemoteError,
    TaskMessage,
    decode_dead_letter,
    encode_dead_letter,
    encode_message,
)

SCAN_BATCH = 500
# The trimmed-letters counter outlives any scrape interval; when it does expire, Prometheus
# reads the drop to zero as a counter reset.
TRIMMED_TTL_MS = 30 * 86_400_000

log = structlog.get_logger("waasp.runtime.broker.dead")


def dead_letter_id(queue: str, entry_id: str) -> str:
    """``("default", "1700000000000-0")`` -> ``"default:1700000000000-0"``."""
    return f"{queue}:{entry_id}"


def split_dead_letter_id(dead_id: str) -> tuple[str, str]:
    """``"default:1700000000000-0"`` -> ``("default", "1700000000000-0")``; DeadLetterNotFound
    for anything that is not such an id."""
    queue, sep, entry_id = dead_id.rpartition(":")
    if not sep or not queue or not entry_id:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} is not of the form QUEUE:ENTRY")
    try:
        check_queue_name(queue)
    except TaskRuntimeError:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} names no valid queue") from None
    if parse_entry_id(entry_id) is None:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} has no valid entry id")
    return queue, entry_id


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """One page of dead letters, newest first, and how many there are in all."""

    letters: list[DeadLetter]
    total: int


@dataclass(frozen=True, slots=True)
class DeadLetterStore:
    """The dead-letter streams of one key prefix."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def add(self, queue: str, letter: DeadLetterRecord) -> str:
        """Write a dead letter; return its id."""
        message, details = encode_dead_letter(letter)
        entry_id = await self.client.xadd(
            self.keys.queue(queue).dead, {b"message": message, b"details": details}
        )
        return dead_letter_id(queue, text(entry_id))

    async def send(self, message: TaskMessage, reason: str, error: RemoteError) -> str:
        """Dead-letter a message that was never delivered (by hand); return its id."""
        return await self.add(
            message.queue, DeadLetterRecord(reason, encode_message(message), error)
        )

    async def trim(self, queue: str, max_len: int) -> int:
        """Remove the oldest dead letters of ``queue`` beyond ``max_len``, count them in the
        queue's trimmed counter, and log it (``lua/trim_dead.lua``); return how many."""
        q = self.keys.queue(queue)
        removed = int(
            await self.scripts.trim_dead(
                keys=[q.dead, q.dead_trimmed], args=[max_len, TRIMMED_TTL_MS]
            )
        )
        if removed:
            log.warning("dead_letters_trimmed", queue=queue, count=removed, max_len=max_len)
        return removed

    async def count(self, queues: Sequence[str]) -> dict[str, int]:
        """Dead letters per queue."""
        async with self.client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.xlen(self.keys.queue(name).dead)
            counts = await pipe.execute()
        return dict(zip(queues, (int(c) for c in counts), strict=True))

    async def page(self, queues: Sequence[str], limit: int, offset: int) -> DeadLetterPage:
        """Dead letters ``offset`` to ``offset + limit``, newest first across ``queues``, and
        their total: one round trip, reading at most ``offset + limit`` entries per queue."""
        async with self.client.pipeline(transaction=False) as pipe:
            for name in queues:
                dead = self.keys.queue(name).dead
                pipe.xlen(dead)
                pipe.xrevrange(dead, "+", "-", count=offset + limit)
            replies = await pipe.execute()
        found = [
            (entry_order(text(entry_id)), name, text(entry_id), fields)
            for name, entries in zip(queues, replies[1::2], strict=True)
            for entry_id, fields in entries
        ]
        found.sort(key=lambda item: item[0], reverse=True)
        letters = [
            decode_dead_letter(name, dead_letter_id(name, entry_id), fields)
            for _, name, entry_id, fields in found[offset : offset + limit]
        ]
        return DeadLetterPage(letters, sum(int(n) for n in replies[::2]))

    async def get(self, queue: str, entry_id: str) -> DeadLetter | None:
        """One dead letter, or None if there is none with that id."""
        entries = await self.client.xrange(self.keys.queue(queue).dead, entry_id, entry_id)
        if not entries:
            return None
        return decode_dead_letter(queue, dead_letter_id(queue, entry_id), entries[0][1])

    async def entry_ids(self, queue: str) -> AsyncIterator[str]:
        """The entry ids of a queue's dead letters, oldest first, read a batch at a time."""
        stream = self.keys.queue(queue).dead
        start = "-"
        while True:
            entries = await self.client.xrange(stream, start, "+", count=SCAN_BATCH)
            for entry_id, _ in entries:
                yield text(entry_id)
            if len(entries) < SCAN_BATCH:
                return
            start = "(" + text(entries[-1][0])

    async def replay(self, queue: str, entry_id: str, message: TaskMessage) -> bool:
        """Move a dead letter back into its queue as ``message`` (into the stream of its
        priority), in one step; False if it is gone (replayed or purged meanwhile)."""
        q = self.keys.queue(queue)
        keys = [q.dead, q.stream_at(message.priority)]
        return bool(await self.scripts.replay(keys=keys, args=[entry_id, encode_message(message)]))

    async def delete(self, queue: str, entry_id: str) -> bool:
        """Delete one dead letter; False if there was none."""
        return bool(await self.client.xdel(self.keys.queue(queue).dead, entry_id))

    async def purge(self, queue: str, older_than: float | None = None) -> int:
        """Delete a queue's dead letters (only those older than ``older_than`` seconds by the
        server's clock, if given); return how many."""
        dead = self.keys.queue(queue).dead
        if older_than is None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xlen(dead)
                pipe.delete(dead)
                removed, _ = await pipe.execute()
            return int(removed)
        server_s, micros = await self.client.time()
        cutoff_ms = int((server_s + micros / 1e6 - older_than) * 1000)
        return int(await self.client.xtrim(dead, minid=str(cutoff_ms), approximate=False))
