"""Revoked tasks in Redis: two sorted sets under the ``{revoked}`` hash tag (one Redis Cluster
slot), written by ``lua/revoke.lua`` and read by workers.

A revoke is remembered as long as the task's result would live (``result_expires``), so a
worker that starts after it still honours it. Workers read the set once per start batch (in
the round trip that counts the starts: ``Broker.start``) and, while tasks run, every
``REVOKE_POLL`` seconds for the running ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from redis.asyncio import Redis

from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import Keys


class RevokeMark(IntEnum):
    """What a worker must do about a task id."""

    NONE = 0  # not revoked
    REVOKED = 1  # revoked: do not start it
    TERMINATE = 2  # revoked with terminate=True: stop it if it runs


@dataclass(frozen=True, slots=True)
class RevokeStore:
    """The revoked task ids of one key prefix."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def add(self, task_id: str, *, terminate: bool, ttl_ms: int) -> bool:
        """Remember ``task_id`` as revoked for ``ttl_ms``; return False if it was already."""
        keys = [self.keys.revoked, self.keys.revoked_terminate]
        args = [task_id, max(int(ttl_ms), 1), "1" if terminate else "0"]
        return bool(await self.scripts.revoke(keys=keys, args=args))

    async def discard(self, task_id: str) -> None:
        """Forget a revoke of ``task_id`` (a dead letter replayed by hand runs again)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.revoked, task_id)
            pipe.zrem(self.keys.revoked_terminate, task_id)
            await pipe.execute()

    async def marks(self, task_ids: Sequence[str]) -> list[RevokeMark]:
        """Per task id, whether (and how) it is revoked: one round trip."""
        if not task_ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zmscore(self.keys.revoked, list(task_ids))
            pipe.zmscore(self.keys.revoked_terminate, list(task_ids))
            revoked, terminate = await pipe.execute()
        return [
            RevokeMark.TERMINATE if t is not None else RevokeMark.REVOKED if r else RevokeMark.NONE
            for r, t in zip(revoked, terminate, strict=True)
        ]
