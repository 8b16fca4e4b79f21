"""Which of a worker's queues are paused: the set in Redis, read at most twice a second.

The reader leaves paused queues out of its reads and the start gate hands back what was read
or buffered before the pause was seen, so a pause takes effect within a second, and costs no
round trip per read. While Redis is away the last known set holds.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, Outages

log = structlog.get_logger("waasp.runtime.worker.pauses")

REFRESH_S = 0.5


class PauseWatch:
    """Keeps ``paused`` up to date; ``changed`` wakes whoever waits on a pause ending."""

    def __init__(self, broker: Broker, *, outages: Outages | None = None) -> None:
        self.broker = broker
        self.paused: frozenset[str] = frozenset()
        self.changed = asyncio.Event()
        self.guard = (outages or Outages()).guard("pauses")

    def current(self) -> frozenset[str]:
        """The paused queues, as last read."""
        return self.paused

    async def refresh(self) -> None:
        """Read the set now (raises the Redis error, if any)."""
        paused = await self.broker.pauses.paused()
        if paused != self.paused:
            log.info("queues_paused_changed", paused=sorted(paused))
            self.paused = paused
            self.changed.set()

    async def run(self) -> None:
        """Refresh until cancelled."""
        while True:
            try:
                await self.refresh()
            except ANY_REDIS_ERROR as exc:
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            await asyncio.sleep(REFRESH_S)

    async def wait_change(self, timeout: float) -> None:
        """Return when the set changes, or after ``timeout`` seconds."""
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.changed.wait()
