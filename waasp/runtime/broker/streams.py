"""The Redis Streams broker: the facade that owns every Redis command of the runtime.

``Broker`` does the queue operations itself (enqueue, schedule, read, settle, promote,
reclaim, release; leases are renewed on ``LeaseRenewals``' blocking connection) and holds
the other concerns' stores: ``dead`` (dead-letter streams), ``events`` (task events and
counters), ``ticks`` (cron ticks), ``workers`` (heartbeats), ``peek`` (read-only looks into
the queues). Records are encoded here, at
the Redis boundary, and nowhere upstream.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker.cron import TickStore
from waasp.runtime.broker.dead import DeadLetterStore
from waasp.runtime.broker.errors import (
    ANY_REDIS_ERROR,
    check_cancelled,
    group_errors,
    is_nogroup,
)
from waasp.runtime.broker.events import EventStore
from waasp.runtime.broker.peek import QueuePeek
from waasp.runtime.broker.queues import QueueStats, idle, queue_stats
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.broker.server import check_redis_version
from waasp.runtime.broker.workers import WorkerRegistry
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.message import (
    MAX_DELIVERIES_MESSAGE,
    DeadLetterRecord,
    TaskMessage,
    encode_dead_letter,
    encode_message,
    max_deliveries_letter,
)

MESSAGE_FIELD = b"message"
PROMOTE_BATCH = 1000
# How long a known-queues set outlives its last registration.
QUEUES_TTL_S = 30 * 86400


@dataclass(frozen=True, slots=True)
class RawDelivery:
    """An entry as read from a queue's stream, not yet decoded."""

    queue: str
    entry_id: str
    raw: bytes
    deliveries: int = 1


class SettleKind(StrEnum):
    """How a finished delivery leaves its stream: the verbs of ``lua/settle.lua``."""

    ACK = "ack"  # done: acknowledge and delete
    RETRY = "retry"  # acknowledge, and schedule the next attempt
    DEAD = "dead"  # acknowledge, and dead-letter


@dataclass(frozen=True, slots=True)
class SettleOp:
    """How one finished delivery leaves the stream; build it with ``ack``, ``retry``, ``dead``."""

    kind: SettleKind
    entry_id: str
    next_attempt: TaskMessage | None = None  # RETRY
    delay_ms: int = 0  # RETRY
    dead_letter: DeadLetterRecord | None = None  # DEAD

    @classmethod
    def ack(cls, entry_id: str) -> SettleOp:
        """Acknowledge and delete the entry."""
        return cls(SettleKind.ACK, entry_id)

    @classmethod
    def retry(cls, entry_id: str, next_attempt: TaskMessage, delay_ms: int) -> SettleOp:
        """Acknowledge, and run ``next_attempt`` after ``delay_ms``."""
        return cls(SettleKind.RETRY, entry_id, next_attempt=next_attempt, delay_ms=delay_ms)

    @classmethod
    def dead(cls, entry_id: str, letter: DeadLetterRecord) -> SettleOp:
        """Acknowledge, and dead-letter the message."""
        return cls(SettleKind.DEAD, entry_id, dead_letter=letter)

    def script_args(self) -> list[Any]:
        """This op's four ARGV values of ``lua/settle.lua``."""
        if self.next_attempt is not None:
            return [self.kind, self.entry_id, encode_message(self.next_attempt), self.delay_ms]
        if self.dead_letter is not None:
            return [self.kind, self.entry_id, *encode_dead_letter(self.dead_letter)]
        return [self.kind, self.entry_id, b"", b""]


class Broker:
    """Every Redis command of the runtime, for one key prefix on one Redis server."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.scripts = Scripts.register(client)
        self.dead = DeadLetterStore(client, keys, self.scripts)
        self.events = EventStore(client, keys, self.scripts)
        self.ticks = TickStore(client, keys, self.scripts)
        self.workers = WorkerRegistry(client, keys, self.scripts)
        self.peek = QueuePeek(client, keys)

    async def ping(self) -> None:
        """Raise unless the server answers."""
        await self.client.ping()

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    async def check_server(self) -> None:
        """Raise UnsupportedRedis unless the server is Redis 6.2 or later."""
        check_redis_version(await self.client.info("server"))

    async def reconnect(self) -> None:
        """Drop the idle pooled connections, so each reconnects on its next use: after a
        failover they may still lead to the old master, now a replica."""
        await self.client.connection_pool.disconnect(inuse_connections=False)

    async def eviction_policy(self) -> str | None:
        """The server's ``maxmemory-policy``, or None if it does not say. Read from INFO,
        which managed services leave enabled where they rename CONFIG."""
        policy = (await self.client.info("memory")).get("maxmemory_policy")
        return None if policy is None else text(policy)

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
        due = await self.scripts.schedule(
            keys=[q.delayed, q.stream], args=[body, mode, when, q.wake]
        )
        return int(due)

    async def register_queues(self, queues: Iterable[str]) -> None:
        """Record queue names so monitoring finds them."""
        names = list(queues)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.queues, *names)
            pipe.expire(self.keys.queues, QUEUES_TTL_S)
            await pipe.execute()

    async def known_queues(self) -> list[str]:
        """The queue names recorded so far, sorted."""
        return sorted(text(q) for q in await self.client.smembers(self.keys.queues))

    async def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Counts of each queue, from a constant number of round trips; its consumers are the
        live workers on it, not the group's consumers (those of dead workers linger until
        reaped, and an idle worker's may not exist yet)."""
        live = await self.workers.live()
        consumers = Counter(queue for worker in live for queue in worker.get("queues", ()))
        return await queue_stats(self.client, self.keys, queues, consumers)

    async def idle(self, queues: Sequence[str]) -> bool:
        """Tell whether nothing is delayed or held in ``queues`` (a missing group is not idle)."""
        return await idle(self.client, self.keys, queues)

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
        """Read up to ``count`` new entries from each of ``queues`` for ``consumer`` (COUNT
        applies per stream); GroupMissing if a queue's group is gone. ``block_ms`` None
        does not wait."""
        streams = {self.keys.queue(q).stream: ">" for q in queues}
        by_stream = {self.keys.queue(q).stream: q for q in queues}
        with group_errors():
            reply = await self.client.xreadgroup(
                GROUP, consumer, streams, count=count, block=block_ms
            )
        out: list[RawDelivery] = []
        for stream, entries in reply or ():
            queue = by_stream[text(stream)]
            for entry_id, fields in entries:
                raw = fields.get(MESSAGE_FIELD, b"") if fields else b""
                out.append(RawDelivery(queue, text(entry_id), raw))
        return out

    async def settle(self, queue: str, ops: Sequence[SettleOp]) -> int:
        """Acknowledge finished entries, with their retries and dead letters, atomically;
        return how many this call acknowledged."""
        q = self.keys.queue(queue)
        args: list[Any] = [GROUP, q.wake]
        for op in ops:
            args += op.script_args()
        return int(await self.scripts.settle(keys=[q.stream, q.delayed, q.dead], args=args))

    async def promote(self, queue: str) -> tuple[int, int]:
        """Move due messages into the stream; return (moved, µs until next due or -1)."""
        q = self.keys.queue(queue)
        moved, wait = await self.scripts.promote(keys=[q.delayed, q.stream], args=[PROMOTE_BATCH])
        return int(moved), int(wait)

    async def listen_wakes(self, queues: Sequence[str], woken: Callable[[], None]) -> None:
        """Call ``woken`` once subscribed to the queues' wake channels (an earlier due time
        was scheduled), then at every message, until the connection fails (raised)."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*(self.keys.queue(q).wake for q in queues))
            woken()
            while True:
                message = await pubsub.get_message(timeout=5.0)
                check_cancelled()
                if message is not None:
                    woken()
        finally:
            with contextlib.suppress(*ANY_REDIS_ERROR):
                await pubsub.aclose()

    # -- leases (renewals run from a thread: blocking.py) ----------------------------------

    async def reclaim(
        self, queue: str, consumer: str, min_idle_ms: int, count: int, max_deliveries: int
    ) -> tuple[list[RawDelivery], list[RawDelivery]]:
        """Claim entries idle longer than ``min_idle_ms``; return (claimed, dead-lettered).

        An entry delivered more than ``max_deliveries`` times is dead-lettered in the same
        step, as ``max_deliveries_letter`` describes it."""
        q = self.keys.queue(queue)
        _, details = encode_dead_letter(max_deliveries_letter(b"", 0, consumer))
        claimed: list[RawDelivery] = []
        dead: list[RawDelivery] = []
        start = "0-0"
        while count > len(claimed):
            args = [GROUP, consumer, min_idle_ms, count - len(claimed), max_deliveries, start]
            with group_errors():
                cursor, got, died = await self.scripts.reclaim(
                    keys=[q.stream, q.dead], args=[*args, details, MAX_DELIVERIES_MESSAGE]
                )
            claimed += _deliveries(queue, got)
            dead += _deliveries(queue, died)
            start = text(cursor)
            if start == "0-0":
                break
        return claimed, dead

    async def release(self, queue: str, consumer: str, entry_ids: Sequence[str]) -> int:
        """Put entries back at the stream's tail for other workers; return how many."""
        if not entry_ids:
            return 0
        q = self.keys.queue(queue)
        return int(await self.scripts.release(keys=[q.stream], args=[GROUP, consumer, *entry_ids]))

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
        return [text(row["message_id"]) for row in rows]


def _deliveries(queue: str, flat: Sequence[Any]) -> list[RawDelivery]:
    """Deliveries from a script's flat ``{id, message, deliveries, ...}`` reply."""
    return [
        RawDelivery(queue, text(flat[i]), flat[i + 1] or b"", int(flat[i + 2]))
        for i in range(0, len(flat), 3)
    ]
