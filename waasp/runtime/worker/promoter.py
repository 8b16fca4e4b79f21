"""Move delayed and retried messages into their streams as they fall due.

It sleeps until the earliest due time less ``PROMOTE_LEAD_MS``, measured on the Redis
server's clock, and wakes early when a schedule publishes an earlier one: no fixed polling
interval adds latency. Each call moves up to ``PROMOTE_BATCH`` messages due within the lead
(those not yet due carry their due time: the reader holds them, ``holds.py``); while more
are due it calls again at once. Each reply's server time keeps the worker's estimate of that
server's clock (``ServerClock``) current.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, PROMOTE_BATCH, Broker, Outages
from waasp.runtime.worker.holds import ServerClock

log = structlog.get_logger("waasp.runtime.worker.promoter")

# A safety net for a wake-up lost while the pub/sub connection was down; not a poll that
# anything waits on, since a due time always comes with a timer or a wake-up.
MAX_SLEEP = 2.0
# At most one promotion per this long while due times come thick (a burst, a retry storm):
# each round trip costs the worker's one thread about as much as starting a task, so asking
# Redis again at once would take the time the worker needs to run what was promoted. A few
# tasks share each promotion instead. The loop's timers resolve to a millisecond (epoll), so
# the wait is up to a millisecond in practice, and a due time is met up to a millisecond late:
# cheaper, on a busy host, than spinning (on Redis or on the CPU) to meet it to the microsecond.
MIN_ROUND = 0.0005


class Promoter:
    """Promotes due messages of ``queues``."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        *,
        outages: Outages | None = None,
        clock: ServerClock | None = None,
    ) -> None:
        self.broker = broker
        self.queues = list(queues)
        self.clock = clock or ServerClock()
        self._wake = asyncio.Event()
        self._outages = outages or Outages()

    async def run(self) -> None:
        """Promote until cancelled."""
        # One group, so that a refusal the wake listener cannot wait out stops the worker too.
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen(), name="promoter-wake")
            await self._promote_forever()

    async def _promote_forever(self) -> None:
        guard = self._outages.guard("promoter")
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            began = loop.time()
            sleep: float | None = None  # until the earliest due time, if any is known
            full = False  # a batch was full: more are due now
            try:
                for queue in self.queues:
                    sent = time.time()
                    promoted = await self.broker.promote(queue)
                    received = time.time()
                    self.clock.observe(queue, promoted.now, sent, received)
                    if promoted.moved:
                        log.debug("delayed_promoted", queue=queue, count=promoted.moved)
                    full = full or promoted.moved >= PROMOTE_BATCH
                    if promoted.wait_us >= 0:
                        # Measured on the server about half a round trip ago.
                        wait = promoted.wait_us / 1e6 - (received - sent) / 2
                        sleep = wait if sleep is None else min(sleep, wait)
            except ANY_REDIS_ERROR as exc:
                await guard.failed(exc)
                continue
            guard.worked()
            if full:
                continue  # a storm of due messages: the next batch at once
            # Until the earliest due time (with nothing delayed, the safety net), or until a
            # schedule wakes it for an earlier one.
            wait = MAX_SLEEP if sleep is None else min(sleep, MAX_SLEEP)
            due = max(loop.time() + wait, began + MIN_ROUND)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(due):
                    await self._wake.wait()

    async def _listen(self) -> None:
        guard = self._outages.guard("promoter-wake")

        def woken() -> None:
            # Also once subscribed: anything scheduled while unsubscribed is looked at now.
            self._wake.set()
            guard.worked()

        while True:
            try:
                await self.broker.listen_wakes(self.queues, woken)
            except ANY_REDIS_ERROR as exc:
                log.debug("promoter_wake_lost", error=str(exc))
                await guard.failed(exc)
