"""Read new entries across a worker's queues without taking more than it has room for.

XREADGROUP's COUNT applies to each stream, so one read of N queues with COUNT n could take
N * n entries. With room for at least one entry per queue, each queue is asked for an equal
share (``room // N``). With less room than queues, the queues are asked a few at a time, one
entry each, starting with a different queue every read so that none is starved; only when
all were empty does the reader block on all of them, and should the wake-up bring more
entries than it has room for (servers that serve a woken read from every ready stream), the
excess is handed back at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import structlog

from waasp.runtime.broker import Broker, RawDelivery

log = structlog.get_logger("waasp.runtime.worker.reader")


class QueueReader:
    """Reads ``queues`` for ``consumer``, holding to the room it is given."""

    def __init__(self, broker: Broker, queues: Sequence[str], consumer: str) -> None:
        self.broker = broker
        self.queues = list(queues)
        self.consumer = consumer
        self._turn = 0

    async def read(self, room: int, block_ms: int | None) -> list[RawDelivery]:
        """Read at most ``room`` entries in all (``room`` >= 1), waiting up to ``block_ms``."""
        count = len(self.queues)
        if room >= count:
            entries = await self.broker.read(self.queues, self.consumer, room // count, block_ms)
        else:
            entries = await self._read_in_turn(room, block_ms)
        # More than asked for: a woken read served every ready stream, or (queues of several
        # cluster masters) a read sent earlier, with more room then, returned now.
        if len(entries) > room:
            await self._hand_back(entries[room:])
            entries = entries[:room]
        return entries

    async def _read_in_turn(self, room: int, block_ms: int | None) -> list[RawDelivery]:
        count = len(self.queues)
        start = self._turn % count
        self._turn += 1
        ordered = self.queues[start:] + self.queues[:start]
        for i in range(0, count, room):
            entries = await self.broker.read(ordered[i : i + room], self.consumer, 1, None)
            if entries:
                return entries
        return await self.broker.read(ordered, self.consumer, 1, block_ms)

    async def _hand_back(self, extra: list[RawDelivery]) -> None:
        by_queue: dict[str, list[str]] = defaultdict(list)
        for delivery in extra:
            by_queue[delivery.queue].append(delivery.entry_id)
        for queue, ids in by_queue.items():
            await self.broker.release(queue, self.consumer, ids)
        log.debug("entries_handed_back", count=len(extra), reason="prefetch_bound")
