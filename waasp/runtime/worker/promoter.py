"""Move delayed and retried messages into their streams when due.

It sleeps until the earliest due time, measured on the Redis server's clock, and wakes
early when a schedule publishes an earlier one: no fixed polling interval adds latency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, Outages

log = structlog.get_logger("waasp.runtime.worker.promoter")

# A safety net for a wake-up lost while the pub/sub connection was down; not a poll that
# anything waits on, since a due time always comes with a timer or a wake-up.
MAX_SLEEP = 2.0
# The event loop wakes up to a millisecond late (epoll's resolution), so the promoter sleeps
# until this long before a due time, then asks again without sleeping: a few round trips
# buy start times within a fraction of a millisecond of the due time.
EARLY = 0.0015


class Promoter:
    """Promotes due messages of ``queues``."""

    def __init__(
        self, broker: Broker, queues: Sequence[str], *, outages: Outages | None = None
    ) -> None:
        self.broker = broker
        self.queues = list(queues)
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
        while True:
            self._wake.clear()
            sleep = MAX_SLEEP
            try:
                for queue in self.queues:
                    moved, wait_us = await self.broker.promote(queue)
                    if moved:
                        log.debug("delayed_promoted", queue=queue, count=moved)
                    if wait_us >= 0:
                        sleep = min(sleep, wait_us / 1e6)
            except ANY_REDIS_ERROR as exc:
                await guard.failed(exc)
                continue
            guard.worked()
            if sleep > EARLY:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(sleep - EARLY):
                        await self._wake.wait()
            elif sleep > 0:
                await asyncio.sleep(0)  # due within EARLY: ask again at once

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
