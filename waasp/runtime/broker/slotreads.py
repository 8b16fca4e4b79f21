"""Reading queues that live in several Redis Cluster slots.

XREADGROUP takes streams of one slot only, so a worker on queues in several slots reads each
slot on its own: every slot at once without blocking, and only when all were empty, a
blocking read on every slot at once. The first blocking read to return ends the wait; the
others stay in flight and are collected by a later call, so no slot's wake-up waits for
another's timeout and no read is abandoned with entries already given to this consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ReadOne = Callable[[Sequence[str], int | None], Coroutine[Any, Any, list[T]]]


class SlotReads(Generic[T]):
    """The blocking reads in flight for one consumer, by the queues (of one slot) they read."""

    def __init__(self) -> None:
        self._blocked: dict[tuple[str, ...], asyncio.Task[list[T]]] = {}

    async def read(
        self, read_one: ReadOne[T], groups: Sequence[Sequence[str]], block_ms: int | None
    ) -> list[T]:
        """Read every group of queues (``read_one(queues, block_ms)``); see the module."""
        out = self._collect()
        if out:
            return out
        replies = await asyncio.gather(*(read_one(g, None) for g in groups), return_exceptions=True)
        out = [item for reply in replies if isinstance(reply, list) for item in reply]
        if out or not block_ms:
            _raise_unless(out, replies)
            return out
        for group in groups:
            key = tuple(group)
            if key not in self._blocked:
                self._blocked[key] = asyncio.create_task(read_one(group, block_ms))
        await asyncio.wait(
            self._blocked.values(), timeout=block_ms / 1000, return_when=asyncio.FIRST_COMPLETED
        )
        return self._collect()

    def _collect(self) -> list[T]:
        out: list[T] = []
        failed: list[BaseException] = []
        for key, task in list(self._blocked.items()):
            if task.done():
                del self._blocked[key]
                if task.cancelled():
                    continue
                if (exc := task.exception()) is not None:
                    failed.append(exc)
                else:
                    out += task.result()
        _raise_unless(out, failed)
        return out

    async def close(self) -> None:
        """Cancel the reads in flight (what they took is reclaimed or handed back)."""
        tasks = list(self._blocked.values())
        self._blocked.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _raise_unless(found: list[T], replies: Sequence[object]) -> None:
    """Raise the first error of ``replies`` when nothing was ``found`` (entries read win:
    a failed slot fails again on the next read)."""
    if not found:
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
