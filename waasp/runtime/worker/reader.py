"""Read new entries across a worker's queues without taking more than it has room for.

XREADGROUP's COUNT applies to each stream, so one read of N queues with COUNT n could take
N * n entries. With room for at least one entry per queue, each queue is asked for an equal
share (``room // N``). With less room than queues, the queues are asked a few at a time, one
entry each, starting with a different queue every read so that none is starved; only when
all were empty does the reader block on all of them, and should the wake-up bring more
entries than it has room for (servers that serve a woken read from every ready stream), the
excess is handed back at once. Paused queues are left out (``pauses.py``); while all are
paused, a read waits for a change of the paused set instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import structlog

from waasp.runtime.broker import Broker, RawDelivery
from waasp.runtime.worker.pauses import REFRESH_S, PauseWatch

log = structlog.get_logger("waasp.runtime.worker.reader")


class QueueReader:
    """Reads ``queues`` for ``consumer``, holding to the room it is given."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        consumer: str,
        pauses: PauseWatch | None = None,
    ) -> None:
        self.broker = broker
        self.queues = list(queues)
        self.consumer = consumer
        self.pauses = pauses
        self._turn = 0

    async def read(self, room: int, block_ms: int | None) -> list[RawDelivery]:
        """Read at most ``room`` entries in all (``room`` >= 1), waiting up to ``block_ms``."""
        queues = self.queues
        if self.pauses is not None and self.pauses.paused:
            queues = [q for q in queues if q not in self.pauses.paused]
            if not queues:
                await self.pauses.wait_change((block_ms or 0) / 1000)
                return []
            if len(queues) < len(self.queues) and block_ms is not None:
                # a queue resumed is read within a second: the next read names it
                block_ms = min(block_ms, int(REFRESH_S * 1000))
        count = len(queues)
        if room >= count:
            entries = await self.broker.read(queues, self.consumer, room // count, block_ms)
        else:
            entries = await self._read_in_turn(queues, room, block_ms)
        # More than asked for: a woken read served every ready stream, or (queues of several
        # cluster masters) a read sent earlier, with more room then, returned now.
        if len(entries) > room:
            await self._hand_back(entries[room:])
            entries = entries[:room]
        return entries

    async def _read_in_turn(
        self, queues: list[str], room: int, block_ms: int | None
    ) -> list[RawDelivery]:
        count = len(queues)
        start = self._turn % count
        self._turn += 1
        ordered = queues[start:] + queues[:start]
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
