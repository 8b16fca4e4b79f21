"""Reading queues of several cluster slots: a slot with entries never waits for the others'
blocking reads, and no read is dropped with entries in it (no Redis: reads are coroutines)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from waasp.runtime.broker.slotreads import SlotReads


class Slots:
    """Per queue: entries a non-blocking read finds, and an event a blocking read waits on."""

    def __init__(self) -> None:
        self.ready: dict[str, list[str]] = {"a": [], "b": []}
        self.arrive = {"a": asyncio.Event(), "b": asyncio.Event()}
        self.failing: set[str] = set()

    async def read_one(self, queues: Sequence[str], block: int | None) -> list[str]:
        [queue] = queues
        if queue in self.failing:
            raise ConnectionError(queue)
        if block:
            await self.arrive[queue].wait()
        found, self.ready[queue] = self.ready[queue], []
        return found


async def test_entries_found_without_blocking_come_at_once() -> None:
    """A slot with entries is read without blocking, however idle the others are."""
    slots, reads = Slots(), SlotReads[str]()
    slots.ready["a"] = ["a1"]
    assert await reads.read(slots.read_one, [["a"], ["b"]], 1000) == ["a1"]


async def test_first_blocking_read_to_return_ends_the_wait_and_the_rest_carry_over() -> None:
    """When all are empty, the first blocking read to return ends the call; the other stays
    in flight and what it gets is returned by a later call."""
    slots, reads = Slots(), SlotReads[str]()
    call = asyncio.create_task(reads.read(slots.read_one, [["a"], ["b"]], 60_000))
    await asyncio.sleep(0)
    slots.ready["a"] = ["a1"]
    slots.arrive["a"].set()
    assert await asyncio.wait_for(call, 10) == ["a1"]
    slots.arrive["a"].clear()
    slots.ready["b"] = ["b1"]
    slots.arrive["b"].set()
    await asyncio.sleep(0)
    assert await reads.read(slots.read_one, [["a"], ["b"]], 60_000) == ["b1"]
    await reads.close()


async def test_a_failing_slot_raises_only_when_nothing_was_read() -> None:
    """Entries read from one slot are returned though another failed; alone, it raises."""
    slots, reads = Slots(), SlotReads[str]()
    slots.failing.add("b")
    slots.ready["a"] = ["a1"]
    assert await reads.read(slots.read_one, [["a"], ["b"]], None) == ["a1"]
    with pytest.raises(ConnectionError):
        await reads.read(slots.read_one, [["a"], ["b"]], None)
