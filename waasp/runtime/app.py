"""``Runtime``: the registry of tasks, the configuration and the clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog

from waasp.runtime.broker import (
    WORKER_SOCKET_TIMEOUT,
    Broker,
    ResultBackend,
    SendOnce,
    connect,
    connect_pubsub,
)
from waasp.runtime.broker.ratelimit import RateLimiter
from waasp.runtime.broker.windows import WindowCounter
from waasp.runtime.config import Config, config_from_env
from waasp.runtime.control import Control
from waasp.runtime.dlq import DeadLetters
from waasp.runtime.eager import run_eagerly
from waasp.runtime.expiry import Expires, deadline
from waasp.runtime.hooks import send_publish
from waasp.runtime.keys import Keys
from waasp.runtime.message import TaskMessage, encode_message, new_task_id
from waasp.runtime.priorities import DEFAULT_PRIORITY, check_priority
from waasp.runtime.registry import Registry
from waasp.runtime.results import AsyncResult as _AsyncResult
from waasp.runtime.signals import after_task_publish, before_task_publish
from waasp.runtime.task import Signature, Task
from waasp.runtime.urls import result_url_for

log = structlog.get_logger("waasp.runtime.app")

SEND_MANY_BATCH = 1000
SendBatch = list[tuple[TaskMessage, bytes]]  # send_many's messages, each with its encoding
# (url, socket_timeout) -> a redis-py asyncio client (Any: the app does not import redis).
RedisFactory = Callable[[str, float | None], Any]


def default_result_url(broker_url: str) -> str:
    """The broker's server, database 1 (database 0 on a cluster, which has no other)."""
    return result_url_for(broker_url)


class Runtime(Registry):
    """A task runtime on Redis Streams, configured like a Celery app.

    ``Runtime("waasp")`` reads ``WAASP_REDIS_URL``, ``WAASP_RESULT_URL``, ``WAASP_KEY_PREFIX``
    and ``WAASP_VISIBILITY_TIMEOUT``; explicit ``broker_url``/``result_url`` win. URLs may name
    one server, a cluster or a sentinel-watched master (``waasp.runtime.urls``);
    ``redis_factory(url, socket_timeout)`` makes the asyncio clients instead (a redis-py
    ``Redis`` or ``RedisCluster``, one per call: the pub/sub one must not reconnect by itself,
    see ``ResultBackend``); the lease renewals' blocking client is still made from the URL.
    """

    def __init__(
        self,
        name: str = "waasp",
        *,
        broker_url: str | None = None,
        result_url: str | None = None,
        key_prefix: str | None = None,
        environ: Mapping[str, str] | None = None,
        redis_factory: RedisFactory | None = None,
    ) -> None:
        self.name = name
        self._factory = redis_factory
        self.conf: Config = config_from_env(name, environ)
        if broker_url:
            self.conf.broker_url = broker_url
        if result_url:
            self.conf.result_backend = result_url
        if key_prefix:
            self.conf.update(key_prefix=key_prefix)
        super().__init__()
        self._broker: Broker | None = None
        self._results: ResultBackend | None = None
        self._announced: set[tuple[str, str]] = set()

    # -- clients (created lazily, so conf.update may still change URLs) -------------------

    @property
    def keys(self) -> Keys:
        """The key builder for ``conf.key_prefix``."""
        return Keys(self.conf.key_prefix)

    @property
    def broker(self) -> Broker:
        """The broker client, connected on first use."""
        if self._broker is None:
            self._broker = Broker(
                self._connect(self.conf.broker_url, None),
                self.keys,
                self.conf.broker_min_replicas,
            )
        return self._broker

    @property
    def results(self) -> ResultBackend:
        """The result backend client, connected on first use."""
        if self._results is None:
            url = self.conf.result_backend or default_result_url(self.conf.broker_url)
            self._results = ResultBackend(
                self._connect(url, None),
                self.keys,
                self.conf.result_expires,
                self._connect(url, None, pubsub=True),
            )
        return self._results

    def worker_clients(self) -> tuple[Broker, ResultBackend]:
        """A broker and a result backend of a worker's own, with read timeouts."""
        broker = Broker(
            self._connect(self.conf.broker_url, WORKER_SOCKET_TIMEOUT),
            self.keys,
            self.conf.broker_min_replicas,
        )
        url = self.conf.result_backend or default_result_url(self.conf.broker_url)
        results = ResultBackend(
            self._connect(url, WORKER_SOCKET_TIMEOUT),
            self.keys,
            self.conf.result_expires,
            self._connect(url, WORKER_SOCKET_TIMEOUT, pubsub=True),
        )
        return broker, results

    def _connect(self, url: str, socket_timeout: float | None, pubsub: bool = False) -> Any:
        if self._factory is not None:
            return self._factory(url, socket_timeout)
        return (connect_pubsub if pubsub else connect)(url, socket_timeout)

    def windows(self, name: str, length: float) -> WindowCounter:
        """A window counter of ``length`` seconds on the broker, under this key prefix."""
        return WindowCounter(self.broker.client, self.conf.key_prefix, name, length)

    def rate_limiter(self) -> RateLimiter:
        """Token buckets on the broker, under this key prefix, shared by every process."""
        return self.broker.rates

    @property
    def control(self) -> Control:
        """Remote control of tasks and queues (``revoke``, ``pause``, ``resume``), shared with
        every worker through Redis."""
        return Control(self.broker, self.results, self.conf.result_expires)

    @property
    def dlq(self) -> DeadLetters:
        """The dead-letter streams of every queue."""
        return DeadLetters(self.broker, self.results, self.build_message, self.conf.dlq_max_len)

    async def ping(self) -> None:
        """Raise unless the broker's Redis answers (a readiness check)."""
        await self.broker.ping()

    async def close(self) -> None:
        """Close the Redis connections."""
        if self._results is not None:
            await self._results.close()
            self._results = None
        if self._broker is not None:
            await self._broker.close()
            self._broker = None

    def AsyncResult(self, task_id: str) -> _AsyncResult[Any]:
        """A handle on the task with this id (its result type unknown here)."""
        return _AsyncResult(task_id, self)

    # -- sending ---------------------------------------------------------------------------

    def build_message(
        self,
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task: Task | None = None,
        queue: str | None = None,
        task_id: str | None = None,
        eta: float | None = None,
        headers: Mapping[str, Any] | None = None,
        expires: Expires | None = None,
        priority: int | None = None,
    ) -> TaskMessage:
        """The message that ``send_task`` would send (``expires``: see ``expiry.py``; the
        task's own ``expires=`` if None. ``priority`` None: the task's own, else 0; anything
        but an int 0..9 raises TypeError or ValueError)."""
        own = task or self.tasks.get(name)
        if expires is None:
            expires = own.expires if own is not None else None
        if priority is None:
            priority = own.priority if own is not None else DEFAULT_PRIORITY
        else:
            check_priority(priority)
        now = time.time()
        return TaskMessage(
            id=task_id or new_task_id(),
            task=name,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            queue=self.route(name, queue, task),
            enqueued_at=now,
            eta=eta,
            headers=dict(headers or {}),
            expires=deadline(expires, now),
            priority=priority,
        )

    async def send_task(
        self,
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task: Task | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        task_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        expires: Expires | None = None,
        priority: int | None = None,
    ) -> _AsyncResult[Any]:
        """Send a task by name (it need not be registered in this process).

        ``priority``: 0 (the best) to 9, lower runs first within a queue; None takes the
        task's own (``@task(priority=)``, default 0).

        An ``eta`` is read on this process's clock: it becomes a countdown from now, which
        the schedule script adds to the Redis server's clock, so a producer whose clock is
        off still gets the delay it meant (``countdown`` wins when both are given).

        With ``conf.task_always_eager`` the task runs here at once (countdown and eta are
        not waited for) and the handle is a ready ``EagerResult``; see ``waasp.runtime.eager``.
        """
        eager = self.conf.task_always_eager
        eta_s = eta.timestamp() if eta is not None and not eager else None
        if eta_s is not None and countdown is None:
            countdown = eta_s - time.time()
        message = self.build_message(
            name,
            args,
            kwargs,
            task=task,
            queue=queue,
            task_id=task_id,
            eta=eta_s,
            headers=headers,
            expires=expires,
            priority=priority,
        )
        if eager:
            return await run_eagerly(self, message)
        if before_task_publish.receivers:
            await send_publish(before_task_publish, message)
        body = encode_message(message)
        await self._announce(message.queue)
        # An explicit id sends once while its result would live: a re-sent call (its reply
        # was lost) returns the same handle and enqueues nothing.
        once = self._send_once(task_id) if task_id else None
        if countdown is not None and countdown > 0:
            due = await self.broker.schedule(
                message.queue, body, delay_ms=countdown * 1000, once=once, priority=message.priority
            )
            sent = due is not None
        else:
            sent = await self.broker.enqueue(message.queue, body, once, message.priority)
        if not sent:
            log.info("task_send_skipped", task_id=message.id, task=name, reason="already_sent")
        if after_task_publish.receivers:
            await send_publish(after_task_publish, message)
        return _AsyncResult(message.id, self)

    async def send_many(self, signatures: Iterable[Signature]) -> list[_AsyncResult[Any]]:
        """Send many tasks, one round trip per batch of 1000 (no countdown/eta in bulk; a
        signature's ``expires`` and ``priority`` options apply)."""
        out: list[_AsyncResult[Any]] = []
        batch: SendBatch = []
        once: dict[int, SendOnce] = {}
        priorities: dict[int, int] = {}
        for sig in signatures:
            options = sig.options
            task_id = options.get("task_id")
            message = self.build_message(
                sig.task.name,
                sig.args,
                sig.kwargs,
                task=sig.task,
                queue=options.get("queue"),
                task_id=task_id,
                headers=options.get("headers"),
                expires=options.get("expires"),
                priority=options.get("priority"),
            )
            if self.conf.task_always_eager:
                out.append(await run_eagerly(self, message))
                continue
            if task_id:
                once[len(batch)] = self._send_once(task_id)
            if message.priority:
                priorities[len(batch)] = message.priority
            if before_task_publish.receivers:
                await send_publish(before_task_publish, message)
            batch.append((message, encode_message(message)))
            out.append(_AsyncResult(message.id, self))
            if len(batch) >= SEND_MANY_BATCH:
                await self._send_batch(batch, once, priorities)
                batch, once, priorities = [], {}, {}
        if batch:
            await self._send_batch(batch, once, priorities)
        return out

    async def _send_batch(
        self, batch: SendBatch, once: dict[int, SendOnce], priorities: dict[int, int]
    ) -> None:
        for queue in {m.queue for m, _ in batch}:
            await self._announce(queue)
        await self.broker.enqueue_many([(m.queue, body) for m, body in batch], once, priorities)
        for message, _ in batch if after_task_publish.receivers else ():
            await send_publish(after_task_publish, message)

    def _send_once(self, task_id: str) -> SendOnce:
        return SendOnce(task_id, max(int(self.conf.result_expires * 1000), 1))

    async def _announce(self, queue: str) -> None:
        key = (self.conf.key_prefix, queue)
        if key not in self._announced:
            await self.broker.register_queues([queue])
            self._announced.add(key)
