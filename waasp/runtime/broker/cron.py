"""Cron ticks in Redis: each beat entry's last fired tick, and the step that fires one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from waasp.runtime.broker.scripts import Scripts, in_pipeline
from waasp.runtime.keys import Keys
from waasp.runtime.message import TaskMessage, encode_message

log = structlog.get_logger("waasp.runtime.broker.cron")


@dataclass(frozen=True, slots=True)
class TickStore:
    """The last fired ticks of one key prefix's beat entries."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def read(self, entries: Sequence[tuple[str, str]]) -> tuple[int, dict[str, int]]:
        """The server time (epoch ms) and the last fired tick (ms) of each ``(entry, queue)``
        that has one, in one round trip (two on a cluster: the clock of the node that holds
        the first entry's queue)."""
        clock = not in_pipeline(self.client)
        if clock:
            key = self.keys.queue(entries[0][1] if entries else "default").stream
            now_ms = await self.scripts.clock_ms(self.client, key)
        async with self.client.pipeline(transaction=False) as pipe:
            if not clock:
                pipe.time()
            for entry, queue in entries:
                pipe.get(self.keys.queue(queue).cron(entry))
            replies = await pipe.execute()
        if not clock:
            seconds, micros = replies.pop(0)
            now_ms = int(seconds) * 1000 + int(micros) // 1000
        stored: dict[str, int] = {}
        for (entry, _), raw in zip(entries, replies, strict=True):
            if raw is not None:
                try:
                    stored[entry] = int(raw)
                except ValueError:
                    log.warning("tick_key_unreadable", entry=entry, value=repr(raw))
        return now_ms, stored

    async def fire(
        self, entry: str, queue: str, tick_ms: int, message: TaskMessage, ttl_ms: int
    ) -> bool:
        """Enqueue ``message`` for the entry's tick unless that tick, or a later one, was fired
        already (``lua/fire_tick.lua``); True if this call enqueued it."""
        q = self.keys.queue(queue)
        fired = await self.scripts.fire_tick(
            keys=[q.cron(entry), q.stream], args=[tick_ms, encode_message(message), ttl_ms]
        )
        return bool(int(fired))
