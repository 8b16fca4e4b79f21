"""Keep what this worker holds, and take over what dead workers held.

A live worker renews its entries well inside the visibility timeout, so a long task is never
handed to a second worker (the renewals run on the watchdog thread, so that a blocked event
loop cannot stop them); entries silent for longer than the timeout belonged to a worker that
died, and are claimed (a task that keeps killing its workers is stopped when it is about to
start again: starts.py). After each reclaim the keeper tidies what dead workers and failures
leave behind: consumers that hold nothing and were silent past the timeout are deleted, and
dead-letter streams are trimmed to ``dlq_max_len``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, REDIS_REFUSALS, Broker, Outages, RawDelivery
from waasp.runtime.worker.inflight import Inflight

log = structlog.get_logger("waasp.runtime.worker.leases")


class LeaseKeeper:
    """Reclaims abandoned entries, on the visibility timeout's rhythm."""

    def __init__(
        self,
        broker: Broker,
        consumer: str,
        queues: Sequence[str],
        inflight: Inflight,
        visibility_timeout: float,
        on_claimed: Callable[[list[RawDelivery]], None],
        *,
        dlq_max_len: int,
        outages: Outages | None = None,
        lanes: Callable[[], Sequence[tuple[str, int]]] | None = None,
    ) -> None:
        self.broker = broker
        self.consumer = consumer
        self.queues = list(queues)
        # Every stream to keep, as (queue, priority): the queues' and their priorities'.
        self.lanes = lanes or (lambda: [(queue, 0) for queue in self.queues])
        self.inflight = inflight
        self.timeout_ms = int(visibility_timeout * 1000)
        self.interval = max(visibility_timeout / 4, 0.02)
        self.on_claimed = on_claimed
        self.dlq_max_len = dlq_max_len
        self.reclaiming = True
        self.guard = (outages or Outages()).guard("leases")

    async def run(self) -> None:
        """Reclaim and tidy until cancelled."""
        while True:
            try:
                if self.reclaiming:
                    await self.reclaim()
                    await self.tidy()
            except ANY_REDIS_ERROR as exc:
                # A missing group: Redis restarted without its data, what this worker held is
                # gone with it, and the reader recreates the group; the worker serves on
                # (guarantee 12).
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            await asyncio.sleep(self.interval)

    async def reclaim(self) -> None:
        """Claim entries idle past the visibility timeout.

        A busy worker's buffer is always full, so claiming only into free slots would leave a
        dead worker's tasks waiting for the whole backlog. A claim may therefore exceed the
        prefetch bound by a quarter of it, never more than twice the bound in all.
        """
        for queue, priority in self.lanes():
            inflight = self.inflight
            overflow = min(max(inflight.capacity // 4, 1), 2 * inflight.capacity - inflight.count)
            free = max(inflight.free, overflow)
            if free <= 0:
                return
            claimed = await self.broker.reclaim(
                queue, self.consumer, self.timeout_ms, free, priority
            )
            if claimed:
                log.info("entries_reclaimed", queue=queue, priority=priority, count=len(claimed))
                self.on_claimed(claimed)

    async def tidy(self) -> None:
        """Delete dead workers' consumers that hold nothing (their entries were reclaimed
        above), and cap the dead-letter streams."""
        live = {self.consumer, *await self.broker.workers.names()}
        for queue, priority in self.lanes():
            try:
                reaped = await self.broker.workers.reap_consumers(
                    queue, sorted(live), self.timeout_ms, priority
                )
                if priority == 0:
                    await self.broker.dead.trim(queue, self.dlq_max_len)
            except REDIS_REFUSALS as exc:
                # housekeeping: a refusal (OOM, READONLY...) is retried at the next pass
                log.warning("tidy_failed", queue=queue, error=str(exc))
                continue
            if reaped:
                log.info("consumers_reaped", queue=queue, consumers=reaped)
