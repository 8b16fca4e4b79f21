"""The baselines: minimal redis-py Streams loops doing what a task queue must do.

XADD to enqueue; XREADGROUP COUNT 100 to consume; then either per message XACK + XDEL + SET
result EX 3600 (``consume``: the floor of round trips a queue with stored results pays), or one
pipeline of XACK + XDEL + a SET per message for the whole batch of up to 100 (``consume_batched``:
the ceiling a runtime that batches its settles can approach). No concurrency, no retries, no
delays. The client is configured as waasp configures its own (``connect``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis

from benchmarks import probe

GROUP = "raw"


def connect(url: str) -> Redis:
    """A client configured as waasp's (``waasp.runtime.broker.client``): redis-py's
    maintenance notifications off. At redis-py 8's default ("auto") they cost a raw loop
    more than half its enqueue rate, which would make the baseline a handicapped one."""
    options: dict[str, Any] = {}
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # older redis-py has none
        pass
    else:
        options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    return Redis.from_url(url, **options)


async def ensure_group(client: Redis, stream: str) -> None:
    """Create the consumer group (and stream) if missing."""
    try:
        await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except Exception as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def body(**fields: object) -> bytes:
    """A message body like a task queue's: an id, a name, arguments."""
    return orjson.dumps({"id": str(uuid.uuid4()), "task": "noop", "args": [], **fields})


async def enqueue_one_by_one(client: Redis, stream: str, n: int) -> float:
    """Seconds to XADD n messages, one round trip each."""
    start = time.perf_counter()
    for _ in range(n):
        await client.xadd(stream, {"message": body()})
    return time.perf_counter() - start


async def enqueue_pipelined(client: Redis, stream: str, n: int, batch: int = 1000) -> float:
    """Seconds to XADD n messages in pipelines of ``batch``."""
    start = time.perf_counter()
    for offset in range(0, n, batch):
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(min(batch, n - offset)):
                pipe.xadd(stream, {"message": body()})
            await pipe.execute()
    return time.perf_counter() - start


async def consume(client: Redis, stream: str, results: str) -> None:
    """Consume forever: XREADGROUP, then per message XACK + XDEL + SET ``results:<id>``."""
    consumer = f"c{os.getpid()}"
    while True:
        reply = await client.xreadgroup(GROUP, consumer, {stream: ">"}, count=100, block=1000)
        for _, entries in reply or ():
            for entry_id, fields in entries:
                message = orjson.loads(fields[b"message"])
                if "sent_at" in message:
                    probe.late(message["sent_at"], message.get("due_at"))
                await client.xack(stream, GROUP, entry_id)
                await client.xdel(stream, entry_id)
                await client.set(f"{results}:{message['id']}", b"null", ex=3600)
                if "sent_at" not in message:
                    probe.done()


async def consume_batched(client: Redis, stream: str, results: str) -> None:
    """Consume forever: XREADGROUP COUNT 100, then one pipeline of XACK + XDEL of the batch
    and a SET ``results:<id>`` per message: one round trip per batch to settle it."""
    consumer = f"c{os.getpid()}"
    while True:
        reply = await client.xreadgroup(GROUP, consumer, {stream: ">"}, count=100, block=1000)
        for _, entries in reply or ():
            ids, noops = [], 0
            pipe = client.pipeline(transaction=False)
            for entry_id, fields in entries:
                message = orjson.loads(fields[b"message"])
                if "sent_at" in message:
                    probe.late(message["sent_at"], message.get("due_at"))
                else:
                    noops += 1
                ids.append(entry_id)
                pipe.set(f"{results}:{message['id']}", b"null", ex=3600)
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            await pipe.execute()
            for _ in range(noops):
                probe.done()


async def _serve(url: str, stream: str, results: str, batched: bool) -> None:
    client = connect(url)
    await ensure_group(client, stream)
    await (consume_batched if batched else consume)(client, stream, results)


if __name__ == "__main__":
    # python -m benchmarks.raw_streams URL STREAM RESULT_PREFIX [--batched]: a consumer process
    asyncio.run(_serve(sys.argv[1], sys.argv[2], sys.argv[3], "--batched" in sys.argv[4:]))
