"""The Redis Streams broker: the facade that owns every Redis command of the runtime.

``Broker`` does the queue operations itself (enqueue, schedule, read, settle, promote,
reclaim, release; leases are renewed on ``LeaseRenewals``' blocking connection) and holds
the other concerns' stores: ``dead`` (dead-letter streams), ``events`` (task events and
counters), ``ticks`` (cron ticks), ``workers`` (heartbeats), ``revokes`` (revoked tasks),
``peek`` (read-only looks into the queues), ``rates`` (token buckets), ``slots`` (concurrency
leases), ``pauses`` (paused queues), ``chords`` (chord counters). Records are encoded here and
in the script arguments of ``ops``, at the Redis boundary, and nowhere upstream.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker.chords import ChordStore
from waasp.runtime.broker.cron import TickStore
from waasp.runtime.broker.dead import DeadLetterStore
from waasp.runtime.broker.errors import (
    ANY_REDIS_ERROR,
    check_cancelled,
    group_errors,
    is_nogroup,
)
from waasp.runtime.broker.events import EventStore
from waasp.runtime.broker.marks import STARTS_TTL_MS, mark_starts
from waasp.runtime.broker.ops import SendOnce, SettleOp, StartReply
from waasp.runtime.broker.pauses import PauseStore
from waasp.runtime.broker.peek import QueuePeek
from waasp.runtime.broker.queues import QueueStats, idle, levels_in_use, queue_stats
from waasp.runtime.broker.ratelimit import RateLimiter
from waasp.runtime.broker.reads import (
    MESSAGE_FIELD,
    RawDelivery,
    deliveries,
    read_best,
    read_streams,
)
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.revokes import RevokeStore
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.broker.server import check_redis_version
from waasp.runtime.broker.slots import SlotStore
from waasp.runtime.broker.workers import WorkerRegistry
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.priorities import LEVELS

PROMOTE_BATCH = 1000
# How long a known-queues set outlives its last registration.
QUEUES_TTL_S = 30 * 86400


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
        self.chords = ChordStore(client, keys)
        self.revokes = RevokeStore(client, keys, self.scripts)
        self.rates = RateLimiter(client, keys.prefix)
        self.slots = SlotStore(client, keys, self.scripts)
        self.pauses = PauseStore(client, keys)

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

    async def enqueue(
        self, queue: str, body: bytes, once: SendOnce | None = None, priority: int = 0
    ) -> bool:
        """Append a message to the stream of a queue's ``priority``; with ``once``, only if
        its task id was not sent already. Return whether it was appended."""
        q = self.keys.queue(queue)
        if once is None:
            await self.client.xadd(q.stream_at(priority), {MESSAGE_FIELD: body})
            return True
        keys = [q.sent(once.task_id), q.stream_at(priority)]
        return bool(await self.scripts.enqueue_once(keys=keys, args=[body, once.ttl_ms]))

    async def enqueue_many(
        self,
        items: Sequence[tuple[str, bytes]],
        once: Mapping[int, SendOnce] | None = None,
        priorities: Mapping[int, int] | None = None,
    ) -> None:
        """Append many messages (queue, body) in one round trip; those whose index is in
        ``once`` only if their task id was not sent already; those whose index is in
        ``priorities`` to that priority's stream."""
        async with self.client.pipeline(transaction=False) as pipe:
            for i, (queue, body) in enumerate(items):
                q = self.keys.queue(queue)
                marked = once.get(i) if once else None
                stream = q.stream_at(priorities.get(i, 0)) if priorities else q.stream
                if marked is None:
                    pipe.xadd(stream, {MESSAGE_FIELD: body})
                else:
                    keys = [q.sent(marked.task_id), stream]
                    await self.scripts.enqueue_once(
                        keys=keys, args=[body, marked.ttl_ms], client=pipe
                    )
            await pipe.execute()

    async def schedule(
        self,
        queue: str,
        body: bytes,
        *,
        delay_ms: float,
        once: SendOnce | None = None,
        priority: int = 0,
    ) -> int | None:
        """Hold a message in the queue's delay set for ``delay_ms`` by the server's clock;
        return the due time (epoch ms), or None when ``once`` says its task id was sent
        already. The promoter moves it into its priority's stream (the message says which)."""
        q = self.keys.queue(queue)
        keys, args = [q.delayed, q.stream_at(priority)], [body, delay_ms, q.wake]
        if once is not None:
            keys.append(q.sent(once.task_id))
            args.append(once.ttl_ms)
        due = int(await self.scripts.schedule(keys=keys, args=args))
        return None if due < 0 else due

    async def register_queues(self, queues: Iterable[str]) -> None:
        """Record queue names so monitoring finds them."""
        names = list(queues)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.queues, *names)
            pipe.expire(self.keys.queues, QUEUES_TTL_S)
            await pipe.execute()

    async def levels(self, queues: Sequence[str]) -> dict[str, tuple[int, ...]]:
        """The priorities other than 0 each queue has used (their streams exist), best first,
        in one round trip."""
        return await levels_in_use(self.client, self.keys, queues)

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

    async def idle(self, queues: Sequence[str], lanes: Sequence[tuple[str, int]] = ()) -> bool:
        """Tell whether nothing is delayed or held in ``queues`` (a missing group is not idle),
        nor held in the streams of ``lanes`` (queue, priority other than 0)."""
        return await idle(self.client, self.keys, queues, lanes)

    # -- consume ---------------------------------------------------------------------------

    async def ensure_group(self, queue: str, priority: int = 0) -> None:
        """Create the stream of a queue's ``priority`` and its consumer group if either is
        missing (from the stream's start: a priority's entries may precede its group)."""
        try:
            await self.client.xgroup_create(
                self.keys.queue(queue).stream_at(priority), GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(
        self,
        queues: Sequence[str],
        consumer: str,
        count: int,
        block_ms: int | None,
        lanes: Sequence[tuple[str, int]] = (),
    ) -> list[RawDelivery]:
        """Read up to ``count`` new entries from each of ``queues`` for ``consumer`` (COUNT
        applies per stream), and from the streams of ``lanes`` (queue, priority other than
        0); GroupMissing if a queue's group is gone. ``block_ms`` None does not wait."""
        return await read_streams(self.client, self.keys, queues, lanes, consumer, count, block_ms)

    async def read_best(
        self, queues: Mapping[str, Sequence[int]], consumer: str, count: int
    ) -> list[RawDelivery]:
        """Read up to ``count`` new entries from each queue, the best priority first
        (``lua/read_levels.lua``), without waiting: ``queues`` maps each queue to its
        priorities other than 0. One round trip for all."""
        return await read_best(self.client, self.keys, self.scripts, queues, consumer, count)

    async def start(
        self,
        queue: str,
        consumer: str,
        entry_ids: Sequence[str],
        max_starts: int,
        task_ids: Sequence[str] = (),
        priority: int = 0,
    ) -> StartReply:
        """Count the starts of entries whose tasks ``consumer`` is about to run, in the stream
        of ``queue``'s ``priority``; say, per entry, whether it may run (see ``StartVerdict``).
        In the same round trip, read which of ``task_ids`` are revoked and the server's clock
        (for expiry)."""
        return await mark_starts(
            self.client,
            self.keys,
            self.scripts,
            (queue, priority),
            consumer,
            entry_ids,
            max_starts,
            task_ids,
        )

    async def settle(
        self, queue: str, consumer: str, ops: Sequence[SettleOp], priority: int = 0
    ) -> list[str]:
        """Acknowledge finished entries ``consumer`` still owns, with their retries and dead
        letters, atomically; return the ids of those it no longer owned (left unsettled)."""
        q = self.keys.queue(queue)
        args: list[Any] = [GROUP, q.wake, consumer]
        for op in ops:
            args += op.script_args()
        keys = [q.stream_at(priority), q.delayed, q.dead, q.starts_at(priority)]
        return [text(i) for i in await self.scripts.settle(keys=keys, args=args)]

    async def promote(self, queue: str) -> tuple[int, int]:
        """Move due messages into the stream; return (moved, µs until next due or -1)."""
        q = self.keys.queue(queue)
        keys = [q.delayed, *(q.stream_at(p) for p in LEVELS)]
        moved, wait = await self.scripts.promote(keys=keys, args=[PROMOTE_BATCH])
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
        self, queue: str, consumer: str, min_idle_ms: int, count: int, priority: int = 0
    ) -> list[RawDelivery]:
        """Claim entries idle longer than ``min_idle_ms`` (their holder died or stalled)."""
        q = self.keys.queue(queue)
        claimed: list[RawDelivery] = []
        start = "0-0"
        while count > len(claimed):
            args = [GROUP, consumer, min_idle_ms, count - len(claimed), start]
            with group_errors():
                cursor, got = await self.scripts.reclaim(
                    keys=[q.stream_at(priority), q.starts_at(priority)], args=args
                )
            claimed += deliveries(queue, got, priority)
            start = text(cursor)
            if start == "0-0":
                break
        return claimed

    async def release(
        self, queue: str, consumer: str, entry_ids: Sequence[str], priority: int = 0
    ) -> int:
        """Put entries back at the stream's tail for other workers, with their start counts;
        return how many."""
        if not entry_ids:
            return 0
        q = self.keys.queue(queue)
        args = [GROUP, consumer, STARTS_TTL_MS, *entry_ids]
        keys = [q.stream_at(priority), q.starts_at(priority)]
        return int(await self.scripts.release(keys=keys, args=args))

    async def owned(
        self, queue: str, consumer: str, count: int = 10_000, priority: int = 0
    ) -> list[str]:
        """Ids of the entries ``consumer`` holds in the stream of ``queue``'s ``priority``."""
        try:
            stream = self.keys.queue(queue).stream_at(priority)
            rows = await self.client.xpending_range(
                stream, GROUP, "-", "+", count, consumername=consumer
            )
        except ResponseError as exc:
            if is_nogroup(exc):
                return []
            raise
        return [text(row["message_id"]) for row in rows]
