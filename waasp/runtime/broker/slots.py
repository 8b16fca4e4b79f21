"""Concurrency slots: ``max_concurrency`` of a task, held across every worker.

Each running start of a capped task holds a lease in the task's sorted set, scored by its
expiry; a live worker renews its leases with its stream leases (``LeaseRenewals``), so one
that dies gives its slots back after the visibility timeout. One key per task name, so each
script call touches one Cluster slot.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import Keys


def lease_member(consumer: str, queue: str, entry_id: str, priority: int = 0) -> str:
    """The lease of one start: unique to the consumer and the entry (whose id is unique in
    the stream of its queue's ``priority``)."""
    lane = queue if not priority else f"{queue}|p{priority}"
    return f"{consumer}|{lane}|{entry_id}"


class SlotStore:
    """Takes and gives back the concurrency leases of capped tasks."""

    def __init__(self, client: Redis, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self.scripts = scripts

    async def take(
        self, task: str, limit: int, lease_ms: int, members: Sequence[str]
    ) -> list[bool]:
        """Lease a slot of ``task`` (at most ``limit`` at once) for each member, in order;
        say per member whether it got one (``lua/slots_take.lua``)."""
        if not members:
            return []
        codes = await self.scripts.slots_take(
            keys=[self.keys.task_slots(task)], args=[limit, lease_ms, *members]
        )
        return [bool(int(code)) for code in codes]

    async def release(self, task: str, members: Sequence[str]) -> None:
        """Give the leases of ``members`` back (their tasks ended, or never began)."""
        if members:
            await self.client.zrem(self.keys.task_slots(task), *members)

    async def held(self, task: str) -> int:
        """How many leases of ``task`` are held now, expired ones included (monitoring)."""
        return int(await self.client.zcard(self.keys.task_slots(task)))
