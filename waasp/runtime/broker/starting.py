"""The start mark: count the starts of entries a worker is about to run, and read, with them,
which of their tasks are revoked and the server's clock (for expiry).

On one server the three are one script call, one round trip on the path of every task's start.
On a cluster the revokes live in another slot, so the script reads only the clock of the
queue's node, and the revokes are read apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from waasp.runtime.broker.client import is_cluster
from waasp.runtime.broker.ops import StartReply, StartVerdict
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.message import (
    MAX_DELIVERIES_MESSAGE,
    encode_dead_letter,
    max_deliveries_letter,
)

STARTS_TTL_MS = 7 * 24 * 3600 * 1000  # a start count outlives any entry's stay in the stream


async def start_entries(
    client: Redis,
    keys: Keys,
    scripts: Scripts,
    lane: tuple[str, int],
    consumer: str,
    entry_ids: Sequence[str],
    max_starts: int,
    task_ids: Sequence[str] = (),
) -> StartReply:
    """Mark the starts (``lua/start.lua``) in the stream of ``lane`` (queue, priority) and
    read the revokes of ``task_ids`` and the clock of the queue's server."""
    queue, priority = lane
    q = keys.queue(queue)
    _, details = encode_dead_letter(max_deliveries_letter(b"", max_starts, 0, consumer))
    args = [GROUP, consumer, max_starts, STARTS_TTL_MS, details, MAX_DELIVERIES_MESSAGE]
    script_keys = [q.stream_at(priority), q.starts_at(priority), q.dead]
    together = bool(task_ids) and not is_cluster(client)
    if together:
        script_keys.append(keys.revoked)
    codes, (seconds, micros), flags = await scripts.start(
        keys=script_keys,
        args=[*args, len(entry_ids), *entry_ids, *(task_ids if together else ())],
        client=client,
    )
    now = int(seconds) + int(micros) / 1e6
    if together:
        return _reply(codes, [int(f) == 1 for f in flags], now)
    scores = await client.zmscore(keys.revoked, list(task_ids)) if task_ids else []
    return _reply(codes, [s is not None for s in scores], now)


def _reply(codes: Sequence[object], revoked: list[bool], now: float) -> StartReply:
    return StartReply([StartVerdict(int(str(c))) for c in codes], revoked, now)
