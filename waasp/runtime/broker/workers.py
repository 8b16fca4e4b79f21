"""Workers in Redis: each one's heartbeat hash (with a TTL), the set of live ones, and their
consumers in the queues' groups (deleted when a worker leaves or is found dead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import GROUP, Keys

# How the heartbeat hash's fields read back; anything else is text.
_INTEGERS = frozenset(
    {"pid", "concurrency", "held", "running", "done", "failed", "retried", "revoked", "stalled"}
)
_FLOATS = frozenset({"started_at", "loop_age", "last_heartbeat"})
_JSON = frozenset({"queues"})


@dataclass(frozen=True, slots=True)
class WorkerRegistry:
    """The heartbeats of one key prefix's workers."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def beat(self, name: str, ttl_ms: int, fields: Mapping[str, Any]) -> None:
        """Write a worker's hash, stamped with the server's clock, and keep it ``ttl_ms``."""
        args: list[Any] = [name, ttl_ms]
        for key, value in fields.items():
            args += [key, value if isinstance(value, str | int | float) else orjson.dumps(value)]
        await self.scripts.heartbeat(keys=[self.keys.worker(name), self.keys.workers], args=args)

    async def remove(self, name: str) -> None:
        """Delete a worker's heartbeat."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.worker(name))
            pipe.zrem(self.keys.workers, name)
            await pipe.execute()

    async def forget_consumer(self, queue: str, consumer: str, priority: int = 0) -> bool:
        """Delete a leaving worker's consumer in the group of ``queue``'s ``priority`` unless
        it still holds entries (``lua/forget_consumer.lua``); True if it is gone."""
        stream = self.keys.queue(queue).stream_at(priority)
        return bool(await self.scripts.forget_consumer(keys=[stream], args=[GROUP, consumer]))

    async def reap_consumers(
        self, queue: str, live: Sequence[str], min_idle_ms: int, priority: int = 0
    ) -> list[str]:
        """Delete the consumers of the group of ``queue``'s ``priority`` that are not ``live``
        workers, hold no entries and were idle longer than ``min_idle_ms``
        (``lua/reap_consumers.lua``); return their names."""
        stream = self.keys.queue(queue).stream_at(priority)
        reaped = await self.scripts.reap_consumers(keys=[stream], args=[GROUP, min_idle_ms, *live])
        return [text(name) for name in reaped]

    async def names(self) -> list[str]:
        """The names of the workers with a recent heartbeat (each beat prunes stale ones)."""
        return [text(n) for n in await self.client.zrange(self.keys.workers, 0, -1)]

    async def live(self) -> list[dict[str, Any]]:
        """Each live worker's hash (heartbeat not expired), decoded."""
        names = await self.names()
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.worker(name))
            hashes = await pipe.execute()
        return [_decode(found) for found in hashes if found]  # empty: expired between reads


def _decode(found: Mapping[bytes, bytes]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for key, value in found.items():
        name, raw = text(key), text(value)
        if name in _INTEGERS:
            info[name] = int(float(raw))
        elif name in _FLOATS:
            info[name] = float(raw)
        elif name in _JSON:
            info[name] = orjson.loads(raw)
        else:
            info[name] = raw
    info["stalled"] = bool(info.get("stalled"))
    info["in_flight"] = info.get("held", 0)
    return info
