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
)
from waasp.runtime.broker.event_shards import shard_count
from waasp.runtime.broker.events import EventStore
from waasp.runtime.broker.hashslots import by_slot
from waasp.runtime.broker.ops import Promoted, SendOnce, SettleOp, StartReply
from waasp.runtime.broker.pauses import PauseStore
from waasp.runtime.broker.peek import QueuePeek
from waasp.runtime.broker.pending import PendingEntries
from waasp.runtime.broker.queues import QueueStats, idle, levels_in_use, queue_stats
from waasp.runtime.broker.ratelimit import RateLimiter
from waasp.runtime.broker.reads import (
    MESSAGE_FIELD,
    RawDelivery,
    read_best,
    read_streams,
)
from waasp.runtime.broker.replication import (
    script_write,
    send_writes,
    write_replicated,
)
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.revokes import RevokeStore
from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.broker.server import check_redis_version
from waasp.runtime.broker.slotreads import SlotReads
from waasp.runtime.broker.slots import SlotStore
from waasp.runtime.broker.starting import start_entries
from waasp.runtime.broker.workers import WorkerRegistry
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.priorities import LEVELS

PROMOTE_BATCH = 1000
# How long before its due time a delayed message is promoted (lua/promote.lua): enough for
# the promotion, the read and the hand-over of a burst to be done by then.
PROMOTE_LEAD_MS = 25
# How long a known-queues set outlives its last registration.
QUEUES_TTL_S = 30 * 86400
# How long a queue's start counts outlive the last start: longer than any entry stays pending.


class Broker(PendingEntries):
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

    async def enqueue(
        self, queue: str, body: bytes, once: SendOnce | None = None, priority: int = 0
    ) -> bool:
        """Append a message to the stream of a queue's ``priority``; with ``once``, only if
        its task id was not sent already. Return whether it was appended."""
        q = self.keys.queue(queue)
        if self.min_replicas:
            writes = send_writes(
                self.keys, self.scripts, [(queue, body)], {0: once} if once else {}, {0: priority}
            )
            [sent] = await write_replicated(self.client, writes, self.min_replicas)
            return once is None or bool(sent)
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
        ``once`` only if their task id was not sent (on a cluster, beside the pipeline); those
        whose index is in ``priorities`` to that priority's stream."""
        if self.min_replicas:
            writes = send_writes(self.keys, self.scripts, items, once or {}, priorities or {})
            await write_replicated(self.client, writes, self.min_replicas)
            return
        together = in_pipeline(self.client)
        beside: list[tuple[list[str], list[Any]]] = []
        async with self.client.pipeline(transaction=False) as pipe:
            for i, (queue, body) in enumerate(items):
                q = self.keys.queue(queue)
                marked = once.get(i) if once else None
                stream = q.stream_at(priorities.get(i, 0)) if priorities else q.stream
                if marked is None:
                    pipe.xadd(stream, {MESSAGE_FIELD: body})
                    continue
                keys, args = [q.sent(marked.task_id), stream], [body, marked.ttl_ms]
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
        return await queue_stats(self.client, self.keys, queues, consumers, self.scripts)

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
        0); GroupMissing if a queue's group is gone. ``block_ms`` None does not wait. On a
        cluster, queues in several slots are read slot by slot (``slotreads.py``)."""
        groups = by_slot(queues, lambda q: self.keys.queue(q).stream, self.cluster)
        if len(groups) <= 1:
            return await read_streams(
                self.client, self.keys, queues, lanes, consumer, count, block_ms
            )
        reads = self._slot_reads.setdefault(consumer, SlotReads())

        async def read_one(group: Sequence[str], block: int | None) -> list[RawDelivery]:
            ours = [lane for lane in lanes if lane[0] in group]
            return await read_streams(self.client, self.keys, group, ours, consumer, count, block)

        return await reads.read(read_one, groups, block_ms)

    async def read_best(
        self, queues: Mapping[str, Sequence[int]], consumer: str, count: int
    ) -> list[RawDelivery]:
        """Read up to ``count`` new entries from each queue, the best priority first
        (``lua/read_levels.lua``), without waiting: ``queues`` maps each queue to its
        priorities other than 0. One round trip for all (one per queue on a cluster)."""
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
        With them, read which of ``task_ids`` are revoked and the server's clock (for
        expiry): see ``starting.py``."""
        return await start_entries(
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
        if self.min_replicas:
            write = script_write(self.scripts.settle.script, keys, args)
            [lost] = await write_replicated(self.client, [write], self.min_replicas)
        else:
            lost = await self.scripts.settle(keys=keys, args=args)
        return [text(i) for i in lost]

    async def promote(self, queue: str) -> Promoted:
        """Move messages due within ``PROMOTE_LEAD_MS`` into the stream (those not yet due
        with their due time, for the reader to hold them until then)."""
        q = self.keys.queue(queue)
        keys = [q.delayed, *(q.stream_at(p) for p in LEVELS)]
        moved, wait, now = await self.scripts.promote(
            keys=keys, args=[PROMOTE_BATCH, PROMOTE_LEAD_MS]
        )
        return Promoted(int(moved), int(wait), int(now) / 1e6)

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
