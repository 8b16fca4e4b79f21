"""The result backend: task records in Redis with a TTL, and pub/sub for their waiters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from waasp.runtime.broker.client import drop_idle_connections, is_cluster, ready
from waasp.runtime.broker.errors import ANY_REDIS_ERROR, REDIS_ERRORS, RedisRefused
from waasp.runtime.broker.hashslots import by_slot
from waasp.runtime.broker.outages import Outages
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import read_script
from waasp.runtime.errors import ResultTimeout
from waasp.runtime.keys import Keys
from waasp.runtime.message import RemoteError, ResultRecord, TaskMeta, decode_meta, encode_meta
from waasp.runtime.states import PENDING, READY_STATES, TaskState

log = structlog.get_logger("waasp.runtime.broker.results")

RECHECK_AFTER = 1.0
# Records per call of lua/store_result.lua: a call per record would cost the server several
# times what its writes do. (The keys of one call share no hash tag: on a Redis Cluster they
# are grouped by slot, one call per slot, sent together.)
STORE_BATCH = 1000
# An idle pub/sub connection is written to this often, to notice one the server dropped.
PING_AFTER = 15.0


class ResultBackend:
    """Stores task records with a TTL and tells waiters when one becomes ready.

    ``pubsub_client`` carries the one pub/sub connection the waiters share. Its connections
    must not reconnect by themselves (see ``client.connect_pubsub``): redis-py's PubSub
    reconnects from whichever task met the error, so the listener's read and a concurrent
    SUBSCRIBE could both connect it and orphan a socket. Here only the listener reconnects,
    and every command on the connection is sent under one lock.
    """

    def __init__(self, client: Redis, keys: Keys, expires: float, pubsub_client: Redis) -> None:
        self.client = client
        self.pubsub_client = pubsub_client
        self.keys = keys
        self.expires_ms = int(expires * 1000)
        self._store = client.register_script(read_script("store_result"))
        self._revoke = client.register_script(read_script("revoke_result"))
        self._split = is_cluster(client)
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._pubsub_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._outages = Outages((self.reconnect,), component="result_listener")

    async def get_meta(self, task_id: str) -> TaskMeta:
        """The stored record, or a PENDING one when nothing is stored."""
        raw = await self.client.get(self.keys.result(task_id))
        return decode_meta(raw) if raw else TaskMeta(id=task_id, state=PENDING)

    async def store_many(self, records: Sequence[ResultRecord]) -> list[bool]:
        """Write records (a script call per thousand); ready ones are announced to waiters. A
        record from an earlier delivery than the stored one's is refused
        (``lua/store_result.lua``); return, per record, whether it was stored."""
        order = list(range(len(records)))
        groups = by_slot(order, lambda i: self.keys.result(records[i].meta.id), self._split)
        calls = [
            group[start : start + STORE_BATCH]
            for group in groups
            for start in range(0, len(group), STORE_BATCH)
        ]
        replies = await asyncio.gather(*(self._store_batch([records[i] for i in c]) for c in calls))
        stored = [False] * len(records)
        for call, reply in zip(calls, replies, strict=True):
            for i, ok in zip(call, reply, strict=True):
                stored[i] = bool(ok)
        return stored

    async def _store_batch(self, records: Sequence[ResultRecord]) -> list[Any]:
        keys: list[str] = []
        args: list[Any] = [self.expires_ms]
        for record in records:
            meta = record.meta
            encoded = record.encoded if record.encoded is not None else encode_meta(meta)
            ready = str(meta.state) if meta.state in READY_STATES else ""
            keys.append(self.keys.result(meta.id))
            args += [encoded, ready, meta.entry_id or "", meta.deliveries]
        return list(await self._store(keys=keys, args=args))

    async def mark_revoked(
        self, task_id: str, error: RemoteError, keep: Iterable[TaskState]
    ) -> TaskState | None:
        """Record the task REVOKED with ``error`` unless its record's state is in ``keep``
        (``lua/revoke_result.lua``); return the state it had (None: no record)."""
        args = [task_id, self.expires_ms, orjson.dumps(error.as_dict()), *keep]
        state = text(await self._revoke(keys=[self.keys.result(task_id)], args=args))
        return next((known for known in TaskState if known.value == state), None)

    async def reconnect(self) -> None:
        """Drop the idle pooled connections, so each reconnects on its next use: after a
        failover they may still lead to the old master, now a replica."""
        await drop_idle_connections(self.client)

    async def forget(self, task_id: str) -> None:
        """Delete a task's record."""
        await self.client.delete(self.keys.result(task_id))

    async def wait(self, task_id: str, timeout: float | None) -> TaskMeta:
        """Wait until the task is ready (pub/sub, no polling loop) and return its record."""
        meta = await self.get_meta(task_id)
        if meta.state in READY_STATES:
            return meta
        channel = self.keys.result(task_id)
        waiters = self._waiters.setdefault(channel, [])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiters.append(future)
        try:
            async with asyncio.timeout(timeout):
                await self._subscribe(channel)
                while True:
                    # Read after subscribing: the record may have become ready before the
                    # subscription took effect.
                    meta = await self.get_meta(task_id)
                    if meta.state in READY_STATES:
                        return meta
                    # A notice published while the pub/sub connection was down is lost:
                    # read again after a while even without one. One read a second, not a
                    # tight loop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(RECHECK_AFTER):
                            await asyncio.shield(future)
                    # Woken by the ready notice, or because the pub/sub connection was lost
                    # or restored (then every waiter is woken, ready or not): read again, and
                    # keep waiting if it is not ready, since ``get`` takes whatever this
                    # returns for the outcome. (The new future is registered before the old
                    # one leaves, so the channel stays subscribed.)
                    done, future = future, loop.create_future()
                    waiters.append(future)
                    waiters.remove(done)
        except TimeoutError:
            raise ResultTimeout(f"task {task_id} not ready after {timeout}s") from None
        finally:
            if future in waiters:
                waiters.remove(future)
            if not waiters and self._waiters.get(channel) is waiters:
                self._waiters.pop(channel, None)
                await self._unsubscribe(channel)

    def _connected(self) -> bool:
        connection = self._pubsub.connection if self._pubsub is not None else None
        return connection is not None and connection.is_connected

    async def _subscribe(self, channel: str) -> None:
        async with self._pubsub_lock:
            if self._pubsub is None:
                # A cluster client needs its slot map first; if that fails, the listener
                # makes the connection.
                with contextlib.suppress(*REDIS_ERRORS):
                    await ready(self.pubsub_client)
                    self._pubsub = self.pubsub_client.pubsub(ignore_subscribe_messages=True)
            # A connection that is down is the listener's to restore: it subscribes every
            # waiting channel then. Meanwhile the waiter reads its record once a second.
            if self._pubsub is not None and (self._pubsub.connection is None or self._connected()):
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._pubsub.subscribe(channel)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="result-listener")

    async def _unsubscribe(self, channel: str) -> None:
        async with self._pubsub_lock:
            if self._pubsub is not None and self._connected():
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._pubsub.unsubscribe(channel)

    async def _resubscribe(self) -> None:
        """Replace the pub/sub connection and subscribe every waiting channel on the new one."""
        async with self._pubsub_lock:
            if self._pubsub is not None:
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._pubsub.aclose()
            if self._split:
                # The node it listened on may have failed over: reload the slot map, so the
                # new connection goes to a node that is up.
                await drop_idle_connections(self.pubsub_client)
            await ready(self.pubsub_client)
            self._pubsub = self.pubsub_client.pubsub(ignore_subscribe_messages=True)
            if self._waiters:
                await self._pubsub.subscribe(*self._waiters)

    async def _ping(self) -> None:
        """Write to an idle connection, so one the server dropped is noticed and replaced."""
        async with self._pubsub_lock:
            if self._pubsub is not None and self._connected():
                await self._pubsub.ping()

    async def _listen(self) -> None:
        try:
            await self._listen_while_waited()
        except RedisRefused as exc:
            # Waiters still read their records once a second: nothing hangs without this.
            log.error("result_listener_failed", error=str(exc))
            self._wake_all()

    async def _listen_while_waited(self) -> None:
        guard = self._outages.guard("result-listener")
        broken = False
        idle_since = time.monotonic()
        while self._waiters:
            try:
                if broken or not self._connected():
                    await self._resubscribe()
                    broken = False
                    # A notice published while the connection was down is lost: every waiter
                    # reads its record once more.
                    self._wake_all()
                    guard.worked()
                    continue
                if time.monotonic() - idle_since > PING_AFTER:
                    idle_since = time.monotonic()
                    await self._ping()
                    guard.worked()
                    continue
                # Found connected with no await since, so redis-py's read does not connect it
                # (outside the lock).
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=1.0)
            except ANY_REDIS_ERROR as exc:
                broken = True
                self._wake_all()
                await guard.failed(exc)
                continue
            guard.worked()
            if message is None:
                continue
            idle_since = time.monotonic()
            if message.get("type") == "message":
                for future in self._waiters.get(text(message["channel"]), []):
                    if not future.done():
                        future.set_result(None)

    def _wake_all(self) -> None:
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        """Stop listening and close both clients."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._pubsub.aclose()
        await self.pubsub_client.aclose()
        await self.client.aclose()
        self._listener = None
        self._pubsub = None
