"""The start mark: count the starts of entries a worker is about to run, and read, with them,
which of their tasks are revoked and the server's clock (for expiry).

On one server the three go in one round trip (``evalsha`` in a plain pipeline: redis-py's
pipelined Script would first ask SCRIPT EXISTS, a second round trip on every start batch). On
a cluster the revokes live in another slot and pipelines take neither scripts nor TIME, so the
script runs on the queue's node with its clock read there, and the revokes are read apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from waasp.runtime.broker.ops import StartReply, StartVerdict
from waasp.runtime.broker.scripts import Scripts, in_pipeline
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
    script = scripts.start
    if not in_pipeline(client):
        codes = await script(keys=script_keys, args=[*args, *entry_ids], client=client)
        now_ms = await scripts.clock_ms(client, q.stream)
        scores = await client.zmscore(keys.revoked, list(task_ids)) if task_ids else []
        return _reply(codes, scores, now_ms / 1000)
    for attempt in (1, 2):
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(script.sha, len(script_keys), *script_keys, *args, *entry_ids)
            pipe.time()
            if task_ids:
                pipe.zmscore(keys.revoked, list(task_ids))
            try:
                codes, (seconds, micros), *revoked = await pipe.execute()
            except NoScriptError:
                if attempt == 2:
                    raise
                script.sha = await client.script_load(script.script)
                continue
        return _reply(codes, revoked[0] if revoked else [], seconds + micros / 1e6)
    raise AssertionError("unreachable")


def _reply(codes: Sequence[object], scores: Sequence[object], now: float) -> StartReply:
    return StartReply(
        [StartVerdict(int(str(c))) for c in codes], [s is not None for s in scores], now
    )
