"""The prefetch bound holds across all of a worker's queues, and no queue is starved.

XREADGROUP's COUNT applies to each stream: a worker with room for 2 that read 4 queues with
COUNT 2 took 8 entries.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import WorkerFactory, runs, wait_until
from waasp.runtime import Runtime
from waasp.runtime.keys import GROUP

QUEUES = ["pb1", "pb2", "pb3", "pb4"]
PER_QUEUE = 6
SECONDS = 0.2


async def held(runtime: Runtime) -> int:
    """Entries read and not yet acknowledged, across the test's queues, read in one MULTI so
    that an entry settled on one queue and a new one read on another are never both counted."""
    async with runtime.broker.client.pipeline(transaction=True) as pipe:
        for queue in QUEUES:
            pipe.xpending(runtime.keys.queue(queue).stream, GROUP)
        replies = await pipe.execute(raise_on_error=False)
    # a missing group (ResponseError): the worker has not read that queue yet
    return sum(int(reply["pending"]) for reply in replies if isinstance(reply, dict))


async def done_per_queue(runtime: Runtime) -> dict[str, int]:
    """Finished tasks of each queue."""
    return {
        queue: sum([await runs(runtime, f"sleepy-done:{queue}-{i}") for i in range(PER_QUEUE)])
        for queue in QUEUES
    }


@pytest.mark.slow
async def test_prefetch_bound_holds_across_queues(runtime: Runtime, workers: WorkerFactory) -> None:
    """A worker with -c 1 and prefetch multiplier 2 on four busy queues never holds more
    than 2 entries in all, and serves every queue early on (none waits for the others)."""
    for i in range(PER_QUEUE):
        for queue in QUEUES:
            await apps.sleepy.apply_async((f"{queue}-{i}", SECONDS), queue=queue)
    worker = workers.start(
        ",".join(QUEUES), concurrency=1, extra_args=("--prefetch-multiplier", "2")
    )
    most = 0
    deadline = time.monotonic() + 60
    early: dict[str, int] | None = None
    while time.monotonic() < deadline:
        most = max(most, await held(runtime))
        done = await done_per_queue(runtime)
        if early is None and sum(done.values()) >= len(QUEUES) * 2:
            early = done
        if sum(done.values()) == len(QUEUES) * PER_QUEUE:
            break
        await asyncio.sleep(0.01)
    assert worker.alive(), worker.output()
    assert most <= 2, f"held {most} entries with a bound of 2"
    assert early is not None and all(early.values()), f"a queue was starved: {early}"

    async def all_done() -> bool:
        return sum((await done_per_queue(runtime)).values()) == len(QUEUES) * PER_QUEUE

    await wait_until(all_done, timeout=30)
