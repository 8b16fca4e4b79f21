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

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker import client as clients
from waasp.runtime.broker.chords import ChordStore
from waasp.runtime.broker.cron import TickStore
from waasp.runtime.broker.dead import DeadLetterStore
from waasp.runtime.broker.errors import (
    ANY_REDIS_ERROR,
    check_cancelled,
    group_errors,
    is_nogroup,
)
from waasp.runtime.broker.event_shards import shard_count
from waasp.runtime.broker.events import EventStore
from waasp.runtime.broker.hashslots import by_slot
from waasp.runtime.broker.ops import SendOnce, SettleOp, StartReply
from waasp.runtime.broker.pauses import PauseStore
from waasp.runtime.broker.peek import QueuePeek
from waasp.runtime.broker.queues import QueueStats, idle, queue_stats
from waasp.runtime.broker.ratelimit import RateLimiter
from waasp.runtime.broker.reads import RawDelivery, SlotReads, deliveries_from_reply
from waasp.runtime.broker.replication import (
    MESSAGE_FIELD,
    script_write,
    send_writes,
    write_replicated,
)
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.revokes import RevokeStore
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.broker.server import check_redis_version
from waasp.runtime.broker.slots import SlotStore
from waasp.runtime.broker.starting import STARTS_TTL_MS, start_entries
from waasp.runtime.broker.workers import WorkerRegistry
from waasp.runtime.keys import GROUP, Keys

PROMOTE_BATCH = 1000
# How long a known-queues set outlives its last registration.
QUEUES_TTL_S = 30 * 86400
# How long a queue's start counts outlive the last start: longer than any entry stays pending.


class Broker:
    """Every Redis command of the runtime, for one key prefix on one Redis server."""

    def __init__(self, client: Redis, keys: Keys, min_replicas: int = 0) -> None:
        self.client = client
        self.keys = keys
        # Replicas that must acknowledge an enqueue, schedule or settle (replication.py).
        self.min_replicas = min_replicas
        self.scripts = Scripts.register(client)
        self.dead = DeadLetterStore(client, keys, self.scripts)
        self.events = EventStore(client, keys, self.scripts, shard_count(client))
        self.ticks = TickStore(client, keys, self.scripts)
        self.workers = WorkerRegistry(client, keys, self.scripts)
        self.peek = QueuePeek(client, keys, self.scripts)
        self.chords = ChordStore(client, keys)
        self.revokes = RevokeStore(client, keys, self.scripts)
        self.rates = RateLimiter(client, keys.prefix)
        self.slots = SlotStore(client, keys, self.scripts)
        self.pauses = PauseStore(client, keys)
        self.cluster = clients.is_cluster(client)
        self._slot_reads: dict[str, SlotReads[RawDelivery]] = {}

    async def ping(self) -> None:
        """Raise unless the server answers."""
        await self.client.ping()

    async def close(self) -> None:
        """Close the client's connections."""
        for reads in self._slot_reads.values():
            await reads.close()
        await self.client.aclose()

    async def check_server(self) -> None:
        """Raise UnsupportedRedis unless the server (every master) is Redis 6.2 or later."""
        for info in await clients.server_infos(self.client, "server"):
            check_redis_version(info)

    async def reconnect(self) -> None:
        """Drop the idle pooled connections, so each reconnects on its next use: after a
        failover they may still lead to the old master, now a replica."""
        await clients.drop_idle_connections(self.client)

    async def eviction_policy(self) -> str | None:
        """The server's ``maxmemory-policy`` (``client.eviction_policy``), or None."""
        return await clients.eviction_policy(self.client)

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, queue: str, body: bytes, once: SendOnce | None = None) -> bool:
        """Append a message to a queue's stream; with ``once``, only if its task id was not
        sent already. Return whether it was appended."""
        q = self.keys.queue(queue)
        if self.min_replicas:
            writes = send_writes(
                self.keys, self.scripts, [(queue, body)], {0: once} if once else {}
            )
            [sent] = await write_replicated(self.client, writes, self.min_replicas)
            return once is None or bool(sent)
        if once is None:
            await self.client.xadd(q.stream, {MESSAGE_FIELD: body})
            return True
        keys = [q.sent(once.task_id), q.stream]
        return bool(await self.scripts.enqueue_once(keys=keys, args=[body, once.ttl_ms]))

    async def enqueue_many(
        self, items: Sequence[tuple[str, bytes]], once: Mapping[int, SendOnce] | None = None
    ) -> None:
        """Append many messages (queue, body) in one round trip; those whose index is in
        ``once`` only if their task id was not sent (on a cluster, beside the pipeline)."""
        if self.min_replicas:
            writes = send_writes(self.keys, self.scripts, items, once or {})
            await write_replicated(self.client, writes, self.min_replicas)
            return
        together = in_pipeline(self.client)
        beside: list[tuple[list[str], list[Any]]] = []
        async with self.client.pipeline(transaction=False) as pipe:
            for i, (queue, body) in enumerate(items):
                q = self.keys.queue(queue)
                marked = once.get(i) if once else None
                if marked is None:
                    pipe.xadd(q.stream, {MESSAGE_FIELD: body})
                    continue
                keys, args = [q.sent(marked.task_id), q.stream], [body, marked.ttl_ms]
                if together:
                    await self.scripts.enqueue_once(keys=keys, args=args, client=pipe)
                else:
                    beside.append((keys, args))
            if len(pipe):
                await pipe.execute()
        await asyncio.gather(*(self.scripts.enqueue_once(keys=k, args=a) for k, a in beside))

    async def schedule(
        self,
        queue: str,
        body: bytes,
        *,
        delay_ms: float,
        once: SendOnce | None = None,
    ) -> int | None:
        """Hold a message in the queue's delay set for ``delay_ms`` by the server's clock;
        return the due time (epoch ms), or None when ``once`` says its task id was sent
        already."""
        q = self.keys.queue(queue)
        keys, args = [q.delayed, q.stream], [body, delay_ms, q.wake]
        if once is not None:
            keys.append(q.sent(once.task_id))
            args.append(once.ttl_ms)
        if self.min_replicas:
            write = script_write(self.scripts.schedule.script, keys, args)
            [due] = await write_replicated(self.client, [write], self.min_replicas)
        else:
            due = await self.scripts.schedule(keys=keys, args=args)
        return None if int(due) < 0 else int(due)

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
        return await queue_stats(self.client, self.keys, queues, consumers, self.scripts)

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
        does not wait. On a cluster, queues in several slots are read slot by slot (``reads``).
        """
        groups = by_slot(queues, lambda q: self.keys.queue(q).stream, self.cluster)
        if len(groups) <= 1:
            return await self._read(queues, consumer, count, block_ms)
        reads = self._slot_reads.setdefault(consumer, SlotReads())

        async def read_one(group: Sequence[str], block: int | None) -> list[RawDelivery]:
            return await self._read(group, consumer, count, block)

        return await reads.read(read_one, groups, block_ms)

    async def _read(
        self, queues: Sequence[str], consumer: str, count: int, block_ms: int | None
    ) -> list[RawDelivery]:
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

    async def start(
        self,
        queue: str,
        consumer: str,
        entry_ids: Sequence[str],
        max_starts: int,
        task_ids: Sequence[str] = (),
    ) -> StartReply:
        """Count the starts of entries whose tasks ``consumer`` is about to run; say, per
        entry, whether it may run (see ``StartVerdict``). With them, read which of
        ``task_ids`` are revoked and the server's clock (for expiry): see ``starting.py``."""
        return await start_entries(
            self.client, self.keys, self.scripts, queue, consumer, entry_ids, max_starts, task_ids
        )

    async def settle(self, queue: str, consumer: str, ops: Sequence[SettleOp]) -> list[str]:
        """Acknowledge finished entries ``consumer`` still owns, with their retries and dead
        letters, atomically; return the ids of those it no longer owned (left unsettled)."""
        q = self.keys.queue(queue)
        args: list[Any] = [GROUP, q.wake, consumer]
        for op in ops:
            args += op.script_args()
        keys = [q.stream, q.delayed, q.dead, q.starts]
        if self.min_replicas:
            write = script_write(self.scripts.settle.script, keys, args)
            [lost] = await write_replicated(self.client, [write], self.min_replicas)
        else:
            lost = await self.scripts.settle(keys=keys, args=args)
        return [text(i) for i in lost]

    async def promote(self, queue: str) -> tuple[int, int]:
        """Move due messages into the stream; return (moved, µs until next due or -1)."""
        q = self.keys.queue(queue)
        moved, wait = await self.scripts.promote(keys=[q.delayed, q.stream], args=[PROMOTE_BATCH])
        return int(moved), int(wait)

    async def listen_wakes(self, queues: Sequence[str], woken: Callable[[], None]) -> None:
        """Call ``woken`` once subscribed to the queues' wake channels (an earlier due time
        was scheduled), then at every message, until the connection fails (raised)."""
        await clients.ready(self.client)
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
        self, queue: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[RawDelivery]:
        """Claim entries idle longer than ``min_idle_ms`` (their holder died or stalled)."""
        q = self.keys.queue(queue)
        claimed: list[RawDelivery] = []
        start = "0-0"
        while count > len(claimed):
            args = [GROUP, consumer, min_idle_ms, count - len(claimed), start]
            with group_errors():
                cursor, got = await self.scripts.reclaim(keys=[q.stream, q.starts], args=args)
            claimed += deliveries_from_reply(queue, got)
            start = text(cursor)
            if start == "0-0":
                break
        return claimed

    async def release(self, queue: str, consumer: str, entry_ids: Sequence[str]) -> int:
        """Put entries back at the stream's tail for other workers, with their start counts;
        return how many."""
        if not entry_ids:
            return 0
        q = self.keys.queue(queue)
        args = [GROUP, consumer, STARTS_TTL_MS, *entry_ids]
        return int(await self.scripts.release(keys=[q.stream, q.starts], args=args))

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
