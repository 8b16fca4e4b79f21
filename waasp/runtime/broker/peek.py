"""Looking into a queue without taking from it: what waits in its stream, what its delay set
holds until due, and where one task's message is now.

Reads only: nothing here delivers, moves or acknowledges an entry. Every read is bounded by
the ``limit`` or ``scan`` it is given, so a deep queue costs what was asked for, never more.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker.queues import level_streams, levels_in_use, workers_group
from waasp.runtime.broker.reads import MESSAGE_FIELD
from waasp.runtime.broker.replies import entry_order, text
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.keys import Keys, QueueKeys
from waasp.runtime.message import DecodeError, TaskMessage, decode_message, message_id_marker

SCAN_BATCH = 500


class Place(StrEnum):
    """Where a message sits."""

    WAITING = "waiting"  # in the stream, not delivered yet
    IN_FLIGHT = "in_flight"  # in the stream, delivered and not acknowledged yet
    DELAYED = "delayed"  # in the delay set until due
    DEAD = "dead"  # in the dead-letter stream


@dataclass(frozen=True, slots=True)
class PeekedTask:
    """A message as it sits in a queue, decoded where it decodes."""

    queue: str
    place: Place
    message: TaskMessage | None  # None: the bytes are not a valid message
    raw: bytes
    entry_id: str | None = None  # the stream entry (waiting, in flight, dead)
    due_ms: int | None = None  # when a delayed message is due (epoch ms, server clock)
    priority: int = 0  # the priority whose stream holds the entry (waiting, in flight)


@dataclass(frozen=True, slots=True)
class QueueContents:
    """The first waiting and delayed messages of one queue, and how many there are."""

    queue: str
    now_ms: int  # the Redis server's clock when read
    waiting_total: int
    delayed_total: int
    waiting: list[PeekedTask]
    delayed: list[PeekedTask]


def _decode(raw: bytes) -> TaskMessage | None:
    try:
        return decode_message(raw)
    except DecodeError:
        return None


def _glob_escape(value: bytes) -> bytes:
    """``value`` as a literal in a Redis MATCH pattern."""
    out = bytearray()
    for byte in value:
        if byte in b"*?[]\\":
            out += b"\\"
        out.append(byte)
    return bytes(out)


def _last_delivered(group: dict[Any, Any] | None) -> str | None:
    return text(group["last-delivered-id"]) if group else None


def _stream_place(entry_id: str, last_delivered: str | None) -> Place:
    if last_delivered is not None and entry_order(entry_id) <= entry_order(last_delivered):
        return Place.IN_FLIGHT
    return Place.WAITING


@dataclass(frozen=True, slots=True)
class QueuePeek:
    """Read-only views of the queues of one key prefix."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def contents(self, queue: str, limit: int) -> QueueContents:
        """The first ``limit`` waiting messages in the order they will be read (the best
        priority first, each priority oldest first) and the ``limit`` next due delayed ones,
        with both totals: two round trips (three on a cluster), a few more when the queue uses
        other priorities."""
        q = self.keys.queue(queue)
        separate = not in_pipeline(self.client)
        if separate:
            now_ms = await self.scripts.clock_ms(self.client, q.stream)
        async with self.client.pipeline(transaction=False) as pipe:
            if not separate:
                pipe.time()
            pipe.zcard(q.delayed)
            pipe.zrange(q.delayed, 0, limit - 1, withscores=True)
            pipe.exists(*level_streams(self.keys, queue))
            pipe.xlen(q.stream)
            pipe.xinfo_groups(q.stream)
            replies = await pipe.execute(raise_on_error=False)
        if not separate:
            clock = replies.pop(0)
            now_ms = int(clock[0]) * 1000 + int(clock[1]) // 1000
        delayed_total, due, used, *plain = replies
        levels = (await levels_in_use(self.client, self.keys, [queue]))[queue] if used else ()
        waiting_total, waiting = 0, list[PeekedTask]()
        for priority in (0, *levels):
            stream = q.stream_at(priority)
            if priority == 0:
                length, groups = plain
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.xlen(stream)
                    pipe.xinfo_groups(stream)
                    length, groups = await pipe.execute(raise_on_error=False)
            group = workers_group(groups)
            last = _last_delivered(group)
            ready = max(int(length) - (int(group["pending"]) if group else 0), 0)
            waiting_total += ready
            if ready and len(waiting) < limit:
                start = "-" if last is None else f"({last}"
                entries = await self.client.xrange(stream, start, "+", count=limit - len(waiting))
                waiting += [self._stream_entry(q, i, f, priority) for i, f in entries]
        delayed = [
            PeekedTask(queue, Place.DELAYED, _decode(raw), raw, due_ms=int(score))
            for raw, score in due
        ]
        return QueueContents(queue, now_ms, waiting_total, int(delayed_total), waiting, delayed)

    async def find(
        self, queue: str, task_id: str, places: Collection[Place], scan: int
    ) -> PeekedTask | None:
        """The message of ``task_id`` in ``queue``, looked for in ``places`` (the stream for
        WAITING and IN_FLIGHT), reading at most ``scan`` entries of each; None if not found."""
        q = self.keys.queue(queue)
        found: PeekedTask | None = None
        if Place.WAITING in places or Place.IN_FLIGHT in places:
            found = await self._find_in_stream(q, task_id, scan)
            if found is not None and found.place not in places:
                found = None
        if found is None and Place.DELAYED in places:
            found = await self._find_delayed(q, task_id, scan)
        if found is None and Place.DEAD in places:
            found = await self._find_dead(q, task_id, scan)
        return found

    def _stream_entry(self, q: QueueKeys, entry_id: Any, fields: Any, priority: int) -> PeekedTask:
        raw = fields.get(MESSAGE_FIELD, b"") if fields else b""
        message = _decode(raw)
        return PeekedTask(q.name, Place.WAITING, message, raw, text(entry_id), priority=priority)

    async def _entries(
        self, stream: str, scan: int, *, newest_first: bool
    ) -> AsyncIterator[tuple[str, bytes]]:
        """(entry id, message bytes) of up to ``scan`` entries of ``stream``, a batch at a time."""
        bound, read = ("+" if newest_first else "-"), 0
        while read < scan:
            count = min(SCAN_BATCH, scan - read)
            if newest_first:
                entries = await self.client.xrevrange(stream, bound, "-", count=count)
            else:
                entries = await self.client.xrange(stream, bound, "+", count=count)
            for entry_id, fields in entries:
                yield text(entry_id), (fields or {}).get(MESSAGE_FIELD, b"")
            read += len(entries)
            if len(entries) < count:
                return
            bound = "(" + text(entries[-1][0])

    async def _match(
        self, stream: str, task_id: str, scan: int, *, newest_first: bool
    ) -> tuple[str, TaskMessage, bytes] | None:
        """The first entry of ``stream`` holding ``task_id``'s message, within ``scan``."""
        marker = message_id_marker(task_id)
        async for entry_id, raw in self._entries(stream, scan, newest_first=newest_first):
            # The marker finds candidates without decoding each; decoding confirms.
            if marker in raw and (message := _decode(raw)) is not None and message.id == task_id:
                return entry_id, message, raw
        return None

    async def _find_in_stream(self, q: QueueKeys, task_id: str, scan: int) -> PeekedTask | None:
        levels = (await levels_in_use(self.client, self.keys, [q.name]))[q.name]
        for priority in (0, *levels):
            stream = q.stream_at(priority)
            try:
                last = _last_delivered(workers_group(await self.client.xinfo_groups(stream)))
            except ResponseError:  # no such stream: nothing waits in it
                continue
            hit = await self._match(stream, task_id, scan, newest_first=False)
            if hit is not None:
                entry_id, message, raw = hit
                place = _stream_place(entry_id, last)
                return PeekedTask(q.name, place, message, raw, entry_id, priority=priority)
        return None

    async def _find_delayed(self, q: QueueKeys, task_id: str, scan: int) -> PeekedTask | None:
        pattern = b"*" + _glob_escape(message_id_marker(task_id)) + b"*"
        cursor, read = 0, 0
        while read < scan:
            cursor, members = await self.client.zscan(
                q.delayed, cursor, match=pattern, count=SCAN_BATCH
            )
            for raw, score in members:
                message = _decode(raw)
                if message is not None and message.id == task_id:
                    return PeekedTask(q.name, Place.DELAYED, message, raw, due_ms=int(score))
            read += SCAN_BATCH
            if cursor == 0:
                break
        return None

    async def _find_dead(self, q: QueueKeys, task_id: str, scan: int) -> PeekedTask | None:
        hit = await self._match(q.dead, task_id, scan, newest_first=True)  # recent deaths first
        if hit is None:
            return None
        entry_id, message, raw = hit
        return PeekedTask(q.name, Place.DEAD, message, raw, entry_id)
