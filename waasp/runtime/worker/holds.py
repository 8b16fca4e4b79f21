"""Deliveries read before they are due, held in memory until then.

The promoter moves a delayed message into its stream up to ``PROMOTE_LEAD_MS`` before it is
due, with its due time by the Redis server's clock (``lua/promote.lua``): the promotion and
the read are then done when it falls due, so a burst of due messages waits for neither. The
worker holds such a delivery here until that time, which it reads off its estimate of the
server's clock (``ServerClock``, from the promoter's replies), and never longer than
``MAX_HOLD``, so that a wrong estimate costs milliseconds, never a stuck task. A held
delivery counts as held (prefetch room, lease renewals) like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from waasp.runtime.broker import PROMOTE_LEAD_MS, RawDelivery

MAX_HOLD = 2 * PROMOTE_LEAD_MS / 1000


class ServerClock:
    """The clock of the Redis server of each queue, as an offset from this host's clock."""

    def __init__(self) -> None:
        self._offsets: dict[str, float] = {}

    def observe(self, queue: str, server_now: float, sent: float, received: float) -> None:
        """Note ``server_now`` (epoch seconds), read by a command sent at ``sent`` and
        answered at ``received`` (this host's epoch seconds)."""
        self._offsets[queue] = server_now - (sent + received) / 2

    def offset(self, queue: str) -> float:
        """Seconds the server of ``queue`` is ahead of this host (0 until observed)."""
        return self._offsets.get(queue, 0.0)


class Holds:
    """Holds deliveries until they are due, then passes each to ``release``."""

    def __init__(self, release: Callable[[RawDelivery], None]) -> None:
        self.clock = ServerClock()
        self._release = release
        self._timers: set[asyncio.TimerHandle] = set()

    def hold(self, delivery: RawDelivery) -> bool:
        """Hold ``delivery`` if it is not due yet; tell whether it was held."""
        if not delivery.due_us:
            return False
        wait = delivery.due_us / 1e6 - self.clock.offset(delivery.queue) - time.time()
        if wait <= 0:
            return False

        def due() -> None:
            self._timers.discard(timer)
            self._release(delivery)

        timer = asyncio.get_running_loop().call_later(min(wait, MAX_HOLD), due)
        self._timers.add(timer)
        return True

    def close(self) -> None:
        """Release nothing more: the worker is stopping (and hands back what it holds)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
