"""Paused queues: a set in Redis, so a pause outlives restarts and reaches every worker.

Workers read the set at most once a second (``worker/pauses.py``), never per read.
"""

from __future__ import annotations

from redis.asyncio import Redis

from waasp.runtime.broker.replies import text
from waasp.runtime.keys import Keys, check_queue_name


class PauseStore:
    """Pauses and resumes queues under one key prefix."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def pause(self, queue: str) -> bool:
        """Pause ``queue``; False if it was paused already."""
        return bool(await self.client.sadd(self.keys.paused, check_queue_name(queue)))

    async def resume(self, queue: str) -> bool:
        """Resume ``queue``; False if it was not paused."""
        return bool(await self.client.srem(self.keys.paused, check_queue_name(queue)))

    async def paused(self) -> frozenset[str]:
        """The paused queues."""
        return frozenset(text(q) for q in await self.client.smembers(self.keys.paused))
