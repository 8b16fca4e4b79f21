"""Redis Cluster slots: which keys one command or script may take together.

A cluster serves a command only if its keys hash to one slot, so a call that spans queues is
split by slot. A single server takes everything at once: there, each helper keeps one group.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from redis.crc import key_slot

T = TypeVar("T")


def slot(key: str) -> int:
    """The cluster slot of ``key`` (its hash tag's, if it has one)."""
    return int(key_slot(key.encode()))


def by_slot(items: Iterable[T], key: Callable[[T], str], split: bool) -> list[list[T]]:
    """``items`` grouped by the slot of ``key(item)``, in first-seen order (one group unless
    ``split``)."""
    listed = list(items)
    if not split:
        return [listed] if listed else []
    groups: dict[Hashable, list[T]] = {}
    for item in listed:
        groups.setdefault(slot(key(item)), []).append(item)
    return list(groups.values())
