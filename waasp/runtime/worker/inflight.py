"""What a worker holds: deliveries read or claimed and not yet settled, and free slots.

The event loop changes it; the watchdog thread reads which entries to renew, under a lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Iterable

from waasp.runtime.broker import RawDelivery


class Inflight:
    """Deliveries held by this worker (buffered and running), bounded by ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # By (queue, priority): entry ids are unique within one stream only.
        self._held: dict[tuple[str, int], dict[str, RawDelivery]] = defaultdict(dict)
        self._count = 0
        self._freed = asyncio.Event()
        self._lock = threading.Lock()
        self.running = 0

    @property
    def count(self) -> int:
        """How many deliveries are held."""
        return self._count

    @property
    def free(self) -> int:
        """How many more deliveries may be taken."""
        return max(self.capacity - self._count, 0)

    def add(self, delivery: RawDelivery) -> bool:
        """Hold a delivery; False if it was already held (a duplicate claim)."""
        with self._lock:
            entries = self._held[delivery.lane]
            if delivery.entry_id in entries:
                return False
            entries[delivery.entry_id] = delivery
            self._count += 1
        return True

    def remove(self, deliveries: Iterable[RawDelivery]) -> None:
        """Let go of settled deliveries and wake a reader waiting for room."""
        with self._lock:
            for delivery in deliveries:
                if self._held[delivery.lane].pop(delivery.entry_id, None) is not None:
                    self._count -= 1
        self._freed.set()

    def holds(self, lane: tuple[str, int], entry_id: str) -> bool:
        """Tell whether an entry of the stream ``lane`` (queue, priority) is still held."""
        with self._lock:
            return entry_id in self._held.get(lane, {})

    def ids_by_lane(self) -> dict[tuple[str, int], list[str]]:
        """Held entry ids per stream, as (queue, priority)."""
        with self._lock:
            return {lane: list(entries) for lane, entries in self._held.items() if entries}

    async def wait_free(self) -> None:
        """Return once at least one slot is free."""
        while self.free == 0:
            self._freed.clear()
            await self._freed.wait()
