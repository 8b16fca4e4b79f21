"""Read new entries across a worker's queues without taking more than it has room for.

XREADGROUP's COUNT applies to each stream, so one read of N queues with COUNT n could take
N * n entries. With room for at least one entry per queue, each queue is asked for an equal
share (``room // N``). With less room than queues, the queues are asked a few at a time, one
entry each, starting with a different queue every read so that none is starved; only when
all were empty does the reader block on all of them, and should the wake-up bring more
entries than it has room for (servers that serve a woken read from every ready stream), the
excess is handed back at once. Paused queues are left out (``pauses.py``); while all are
paused, a read waits for a change of the paused set instead.

Priorities: a queue that has used priorities other than 0 (their streams exist: looked for
again every ``LEVELS_REFRESH_S``) is read best priority first, by one script per queue
(``Broker.read_best``), and the blocking wait covers every level's stream. A queue that
never did is read by one XREADGROUP: the plain path costs no extra round trip per read.
Paused queues are left out first; the priority logic applies to the queues left.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import structlog

from waasp.runtime.broker import Broker, RawDelivery
from waasp.runtime.worker.pauses import REFRESH_S, PauseWatch

log = structlog.get_logger("waasp.runtime.worker.reader")

# How often the streams of the queues' priorities are looked for again: a queue's first task
# of a new priority may wait this long (or a blocking read's timeout) to be seen.
LEVELS_REFRESH_S = 1.0


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
        self.levels: dict[str, tuple[int, ...]] = {}  # queue -> priorities other than 0
        self._levels_read = -LEVELS_REFRESH_S
        self._turn = 0

    def lanes(self) -> list[tuple[str, int]]:
        """Every stream this worker reads, as (queue, priority), priority 0 first."""
        return [(q, 0) for q in self.queues] + self.extra_lanes()

    def extra_lanes(self, queues: Sequence[str] | None = None) -> list[tuple[str, int]]:
        """The streams of priorities other than 0 this worker reads (of ``queues`` if given),
        as (queue, priority)."""
        names = self.queues if queues is None else queues
        return [(q, level) for q in names for level in self.levels.get(q, ())]

    async def refresh_levels(self, *, force: bool = False) -> bool:
        """Read the queues' priorities in use again if due (or ``force``), and make the
        consumer group of each new one; tell whether there was a new one."""
        now = time.monotonic()
        if not force and now - self._levels_read < LEVELS_REFRESH_S:
            return False
        found = await self.broker.levels(self.queues)
        new = False
        for queue, levels in found.items():
            for level in set(levels) - set(self.levels.get(queue, ())):
                await self.broker.ensure_group(queue, level)
                new = True
        self.levels = {queue: levels for queue, levels in found.items() if levels}
        self._levels_read = now
        return new

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
        await self.refresh_levels()
        count = len(queues)
        if room >= count and not any(q in self.levels for q in queues):
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
        step = min(room, count)
        for i in range(0, count, step):
            entries = await self._read_now(ordered[i : i + step], max(room // step, 1))
            if entries:
                return entries
        extra = self.extra_lanes(ordered)
        return await self.broker.read(ordered, self.consumer, 1, block_ms, extra)

    async def _read_now(self, queues: list[str], count: int) -> list[RawDelivery]:
        if not any(q in self.levels for q in queues):
            return await self.broker.read(queues, self.consumer, count, None)
        return await self.broker.read_best(
            {q: self.levels.get(q, ()) for q in queues}, self.consumer, count
        )

    async def _hand_back(self, extra: list[RawDelivery]) -> None:
        by_lane: dict[tuple[str, int], list[str]] = defaultdict(list)
        for delivery in extra:
            by_lane[delivery.lane].append(delivery.entry_id)
        for (queue, priority), ids in by_lane.items():
            await self.broker.release(queue, self.consumer, ids, priority)
        log.debug("entries_handed_back", count=len(extra), reason="prefetch_bound")
