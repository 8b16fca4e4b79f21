"""The worker: one reader fills a bounded buffer, N executors drain it, and beside them the
settler, the start gate, the lease keeper, the promoter, the heartbeat, the pause watch and
the loop clock, all under one TaskGroup; the watchdog thread renews leases outside the event
loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from waasp.runtime.broker import (
    ANY_REDIS_ERROR,
    Fault,
    LeaseRenewals,
    Outages,
    RawDelivery,
    refused_alone,
)
from waasp.runtime.keys import check_queue_name
from waasp.runtime.signals import worker_ready, worker_shutdown
from waasp.runtime.states import FAILURE, RETRY, REVOKED, SUCCESS
from waasp.runtime.worker.admission import Admission
from waasp.runtime.worker.events import EventRecorder
from waasp.runtime.worker.eviction import check_eviction_policy
from waasp.runtime.worker.executor import Executor
from waasp.runtime.worker.flow import Flow
from waasp.runtime.worker.heartbeat import Heartbeat, LoopClock
from waasp.runtime.worker.holds import Holds
from waasp.runtime.worker.inflight import Inflight
from waasp.runtime.worker.leases import LeaseKeeper
from waasp.runtime.worker.pauses import PauseWatch
from waasp.runtime.worker.promoter import Promoter
from waasp.runtime.worker.reader import QueueReader
from waasp.runtime.worker.revokes import RevokeWatch
from waasp.runtime.worker.settler import Settler
from waasp.runtime.worker.shutdown import Drain, cancel_all
from waasp.runtime.worker.starts import StartGate
from waasp.runtime.worker.threads import TaskThreads
from waasp.runtime.worker.watchdog import Watchdog

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime

log = structlog.get_logger("waasp.runtime.worker.worker")

READ_BLOCK_MS = 1000
BURST_READ_BLOCK_MS = 50
MAX_READ_COUNT = 500


def consumer_name() -> str:
    """A name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Consumes ``queues`` with ``concurrency`` executors until stopped (or, in burst mode,
    until the queues are empty)."""

    def __init__(
        self,
        runtime: Runtime,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        *,
        burst: bool = False,
        name: str | None = None,
        prefetch_multiplier: int | None = None,
        shutdown_timeout: float | None = None,
        strict: bool = False,
    ) -> None:
        conf = runtime.conf
        self.runtime = runtime
        self.queues = [check_queue_name(q) for q in (queues or [conf.task_default_queue])]
        self.concurrency = concurrency or conf.worker_concurrency
        multiplier = prefetch_multiplier or conf.worker_prefetch_multiplier
        self.burst = burst
        # Refuse to start (rather than warn) unless Redis's maxmemory-policy is noeviction.
        self.strict = strict
        self._policy_checked = False
        self.name = name or consumer_name()
        self.shutdown_timeout = (
            conf.worker_shutdown_timeout if shutdown_timeout is None else shutdown_timeout
        )
        self.inflight = Inflight(self.concurrency * multiplier)
        self.buffer: asyncio.Queue[RawDelivery | None] = asyncio.Queue()
        self.holds = Holds(self.buffer.put_nowait)  # promoted before they are due
        # The worker's own clients, with read timeouts so a stalled connection raises.
        self.broker, self.results = runtime.worker_clients()
        self.outages = Outages((self.broker.reconnect, self.results.reconnect), worker=self.name)
        self.pauses = PauseWatch(self.broker, outages=self.outages)
        self.reader = QueueReader(self.broker, self.queues, self.name, self.pauses)
        self.threads = TaskThreads(self.concurrency)
        events = (
            EventRecorder(self.broker, conf, self.name, runtime.tasks)
            if conf.worker_send_task_events
            else None
        )
        self.settler = Settler(
            self.broker, self.results, self.name, self._settled, events, outages=self.outages
        )
        lease_ms = int(conf.broker_visibility_timeout * 1000)
        self.admission = Admission(
            self.broker, self.name, runtime.tasks, conf.queue_rates(), lease_ms, self.pauses.current
        )
        flow = Flow(runtime, self.outages)  # workflows: what follows a step
        self.starts = StartGate(
            self.broker,
            self.name,
            conf.broker_max_deliveries,
            self.inflight,
            self.settler,
            self.admission,
            outages=self.outages,
            flow=flow,
        )
        self.executor = Executor(
            runtime, self.name, self.threads, self.settler.started, self.settler.progress, flow
        )
        self.revokes = RevokeWatch(self.broker, self.executor, outages=self.outages)
        self.leases = LeaseKeeper(
            self.broker,
            self.name,
            self.queues,
            self.inflight,
            conf.broker_visibility_timeout,
            self._enqueue_local,
            dlq_max_len=conf.dlq_max_len,
            outages=self.outages,
            lanes=self.reader.lanes,
        )
        self.clock = LoopClock()
        self.watchdog = Watchdog(
            LeaseRenewals(conf.broker_url, runtime.keys),
            self.name,
            self.inflight,
            conf.broker_visibility_timeout,
            self.clock,
            self._culprit,
            self.admission.leases_by_task,
        )
        self.promoter = Promoter(
            self.broker, self.queues, outages=self.outages, clock=self.holds.clock
        )
        self.heartbeat = Heartbeat(
            self.broker,
            self.name,
            conf.worker_heartbeat_interval,
            self.stats,
            self.clock.age,
            stall_after=max(10.0, READ_BLOCK_MS / 1000 * 5),
            outages=self.outages,
        )
        self.drain = Drain(
            self.broker,
            self.name,
            self.queues,
            self.buffer,
            holds=self.holds,
            executor=self.executor,
            settler=self.settler,
            leases=self.leases,
            heartbeat=self.heartbeat,
            timeout=self.shutdown_timeout,
            lanes=self.reader.lanes,
        )
        self.counts = {SUCCESS.value: 0, FAILURE.value: 0, RETRY.value: 0, REVOKED.value: 0}
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- public --------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin the drain: stop fetching, finish what runs, hand back the rest."""
        if not self._stop.is_set():
            log.info("worker_stopping", worker=self.name)
        self._stop.set()

    def loop_age(self) -> float:
        """Seconds since the event loop last came round (busy executors do not count)."""
        return self.clock.age()

    def stats(self) -> dict[str, Any]:
        """Live figures for the heartbeat."""
        return {
            "queues": self.queues,
            "concurrency": self.concurrency,
            "held": self.inflight.count,
            "running": self.inflight.running,
            "done": self.counts[SUCCESS.value],
            "failed": self.counts[FAILURE.value],
            "retried": self.counts[RETRY.value],
            "revoked": self.counts[REVOKED.value],
        }

    async def run(self) -> None:
        """Work until ``stop()`` (or until idle, in burst mode)."""
        log.info(
            "worker_started",
            worker=self.name,
            queues=self.queues,
            concurrency=self.concurrency,
            burst=self.burst,
        )
        self._loop = asyncio.get_running_loop()
        try:
            await self._prepare(check_server=True)
            for hook in self.runtime.startup_hooks:
                await hook()
            await worker_ready.asend(self)
            async with refused_alone(), asyncio.TaskGroup() as group:
                services = [
                    group.create_task(self.settler.run(), name="settler"),
                    group.create_task(self.clock.run(), name="loop-clock"),
                    group.create_task(self.leases.run(), name="leases"),
                    group.create_task(self.promoter.run(), name="promoter"),
                    group.create_task(self.heartbeat.run(), name="heartbeat"),
                    group.create_task(self.starts.run(), name="starts"),
                    group.create_task(self.revokes.run(), name="revokes"),
                    group.create_task(self.pauses.run(), name="pauses"),
                ]
                reader = group.create_task(self._read_loop(), name="reader")
                executors = [
                    group.create_task(self._execute_loop(), name=f"executor-{i}")
                    for i in range(self.concurrency)
                ]
                self.watchdog.start()
                try:
                    await self._stop.wait()
                except asyncio.CancelledError:
                    await cancel_all([reader, *executors, *services])
                    raise
                await self.drain.run(reader, executors, services)
        finally:
            await self.watchdog.stop()
            self.threads.shutdown()
            with contextlib.suppress(*ANY_REDIS_ERROR):
                await self.admission.release_all()  # leases of tasks abandoned at shutdown
            await worker_shutdown.asend(self)
            for hook in self.runtime.shutdown_hooks:
                await hook()
            await self.results.close()
            await self.broker.close()
        log.info("worker_stopped", worker=self.name, **self.stats())

    # -- start and stop --------------------------------------------------------------------

    async def _prepare(self, *, check_server: bool = False) -> None:
        guard = self.outages.guard("prepare")
        while not self._stop.is_set():
            try:
                if check_server:
                    await self.broker.check_server()  # an old server: one line, no start
                for queue, priority in self.reader.lanes():
                    await self.broker.ensure_group(queue, priority)
                await self.broker.register_queues(self.queues)
                await self.pauses.refresh()  # a queue paused before the start is never read
                if not self._policy_checked:
                    await check_eviction_policy(self.broker, strict=self.strict)
                    self._policy_checked = True
            except ANY_REDIS_ERROR as exc:
                # Both calls raise CancelledError if start-up is being cancelled: redis-py can
                # return normally from a command cancelled mid-flight, and a start-up that went
                # on would wait for a stop() its canceller will never call.
                await guard.failed(exc)
                continue
            guard.worked()
            return

    # -- the loops -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        guard = self.outages.guard("reader")
        block = BURST_READ_BLOCK_MS if self.burst else READ_BLOCK_MS
        while True:
            await self.inflight.wait_free()
            try:
                entries = await self.reader.read(min(self.inflight.free, MAX_READ_COUNT), block)
                idle = not entries and self.burst and await self._idle()
            except ANY_REDIS_ERROR as exc:
                if await guard.failed(exc) is Fault.GROUP_MISSING:
                    log.warning("consumer_group_recreated", queues=self.queues)
                    await self._prepare()
                continue
            # redis-py can return normally from a blocking XREADGROUP cancelled mid-read;
            # looping on would leave the TaskGroup waiting for this task forever. What was
            # just read stays pending for this consumer and is handed back (drain) or
            # reclaimed (crash).
            guard.worked()
            self._enqueue_local(entries)
            if entries:
                # Let the executors start these before this loop spends time sending the
                # next blocking read: it is the enqueue-to-start latency.
                await asyncio.sleep(0)
            elif idle:
                self.stop()
                return

    async def _execute_loop(self) -> None:
        while True:
            delivery = await self.buffer.get()
            if delivery is None:
                return
            if not await self.starts.begin(delivery):
                continue
            self.inflight.running += 1
            began = time.perf_counter()
            try:
                outcome = await self.executor.run(delivery)
            finally:
                self.inflight.running -= 1
                self.starts.ended(delivery)  # its concurrency lease, if any
            self.counts[outcome.state.value] += 1
            self.settler.finish(delivery, outcome, time.perf_counter() - began)

    # -- callbacks -------------------------------------------------------------------------

    def _culprit(self) -> Mapping[str, str]:
        # Called from the watchdog thread while the loop is blocked: what the loop runs now.
        current = asyncio.current_task(self._loop) if self._loop is not None else None
        if current is None:
            return {}
        return self.executor.describe(current)

    def _enqueue_local(self, deliveries: list[RawDelivery]) -> None:
        for delivery in deliveries:
            if self.inflight.add(delivery) and not self.holds.hold(delivery):
                self.buffer.put_nowait(delivery)

    def _settled(self, deliveries: list[RawDelivery]) -> None:
        self.inflight.remove(deliveries)

    async def _idle(self) -> bool:
        if self.inflight.count or self.settler.pending:
            return False
        if await self.reader.refresh_levels(force=True):
            return False  # a priority first used since the last read may hold tasks
        return await self.broker.idle(self.queues, self.reader.extra_lanes())
