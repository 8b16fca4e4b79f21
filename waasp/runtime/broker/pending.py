"""The entries a worker holds: claiming those another holder left idle, handing entries
back to the stream, and listing what a consumer holds. A part of ``Broker``."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from waasp.runtime.broker.errors import group_errors, is_nogroup
from waasp.runtime.broker.reads import RawDelivery, deliveries
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.broker.starting import STARTS_TTL_MS
from waasp.runtime.keys import GROUP, Keys


class PendingEntries:
    """Reclaim, release and list held entries (``Broker`` sets the client, keys, scripts)."""

    client: Redis
    keys: Keys
    scripts: Scripts

    async def reclaim(
        self, queue: str, consumer: str, min_idle_ms: int, count: int, priority: int = 0
    ) -> list[RawDelivery]:
        """Claim entries idle longer than ``min_idle_ms`` (their holder died or stalled)."""
        q = self.keys.queue(queue)
        claimed: list[RawDelivery] = []
        start = "0-0"
        while count > len(claimed):
            args = [GROUP, consumer, min_idle_ms, count - len(claimed), start]
            with group_errors():
                cursor, got = await self.scripts.reclaim(
                    keys=[q.stream_at(priority), q.starts_at(priority)], args=args
                )
            claimed += deliveries(queue, got, priority)
            start = text(cursor)
            if start == "0-0":
                break
        return claimed

    async def release(
        self, queue: str, consumer: str, entry_ids: Sequence[str], priority: int = 0
    ) -> int:
        """Put entries back at the stream's tail for other workers, with their start counts;
        return how many."""
        if not entry_ids:
            return 0
        q = self.keys.queue(queue)
        args = [GROUP, consumer, STARTS_TTL_MS, *entry_ids]
        keys = [q.stream_at(priority), q.starts_at(priority)]
        return int(await self.scripts.release(keys=keys, args=args))

    async def owned(
        self, queue: str, consumer: str, count: int = 10_000, priority: int = 0
    ) -> list[str]:
        """Ids of the entries ``consumer`` holds in the stream of ``queue``'s ``priority``."""
        try:
            stream = self.keys.queue(queue).stream_at(priority)
            rows = await self.client.xpending_range(
                stream, GROUP, "-", "+", count, consumername=consumer
            )
        except ResponseError as exc:
            if is_nogroup(exc):
                return []
            raise
        return [text(row["message_id"]) for row in rows]
