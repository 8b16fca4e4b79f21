"""The start mark: the start counts of a batch of entries about to run, read together with
the revokes of their tasks and the server's clock, in one round trip."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from waasp.runtime.broker.ops import StartReply, StartVerdict
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.keys import GROUP, Keys
from waasp.runtime.message import (
    MAX_DELIVERIES_MESSAGE,
    encode_dead_letter,
    max_deliveries_letter,
)

# How long a queue's start counts outlive the last start: longer than any entry stays pending.
STARTS_TTL_MS = 7 * 86400 * 1000


async def mark_starts(
    client: Redis,
    keys: Keys,
    scripts: Scripts,
    lane: tuple[str, int],
    consumer: str,
    entry_ids: Sequence[str],
    max_starts: int,
    task_ids: Sequence[str],
) -> StartReply:
    """``lua/start.lua`` on the stream of ``lane`` (queue, priority), with TIME and the
    revokes of ``task_ids`` in the same pipeline."""
    queue, priority = lane
    q = keys.queue(queue)
    _, details = encode_dead_letter(max_deliveries_letter(b"", max_starts, 0, consumer))
    args = [GROUP, consumer, max_starts, STARTS_TTL_MS, details, MAX_DELIVERIES_MESSAGE]
    names = [q.stream_at(priority), q.starts_at(priority), q.dead]
    script = scripts.start
    for attempt in (1, 2):
        # evalsha in a plain pipeline: redis-py's pipelined Script would first ask SCRIPT
        # EXISTS, a second round trip on every start batch.
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(script.sha, len(names), *names, *args, *entry_ids)
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
        flags = [score is not None for score in revoked[0]] if revoked else []
        return StartReply([StartVerdict(int(c)) for c in codes], flags, seconds + micros / 1e6)
    raise AssertionError("unreachable")
