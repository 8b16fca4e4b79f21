"""A worker or scheduler cancelled at any moment of its start-up ends."""

from __future__ import annotations

import asyncio
import random

from waasp.runtime import Runtime, Scheduler, Worker

ATTEMPTS = 40
GIVE_UP = 15.0  # seconds a cancelled task may take to end, on a loaded machine


async def _cancel_and_wait(task: asyncio.Task[None]) -> bool:
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=GIVE_UP)
    return bool(done)


async def test_worker_cancelled_during_start_up_ends(runtime: Runtime) -> None:
    """Cancelling Worker.run() early in its start-up ends it: the cancellation is never lost
    inside a Redis command (redis-py can return normally from a cancelled call)."""
    rng = random.Random(1317)
    for attempt in range(ATTEMPTS):
        worker = Worker(runtime, ["default"], 2)
        task = asyncio.create_task(worker.run())
        for _ in range(rng.randrange(0, 6)):
            await asyncio.sleep(0)
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05]))
        ended = await _cancel_and_wait(task)
        if not ended:
            worker.stop()  # end it the polite way, so the test does not leak it
            await asyncio.wait([task], timeout=GIVE_UP)
        assert ended, f"attempt {attempt}: the worker ignored its cancellation"


async def test_scheduler_cancelled_during_start_up_ends(runtime: Runtime) -> None:
    """Cancelling Scheduler.run() early in its start-up ends it."""
    rng = random.Random(1318)
    for attempt in range(ATTEMPTS):
        scheduler = Scheduler(runtime, {"tick": {"task": "t.noop", "schedule": 3600}})
        task = asyncio.create_task(scheduler.run())
        for _ in range(rng.randrange(0, 6)):
            await asyncio.sleep(0)
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05]))
        ended = await _cancel_and_wait(task)
        if not ended:
            scheduler.stop()
            await asyncio.wait([task], timeout=GIVE_UP)
        assert ended, f"attempt {attempt}: the scheduler ignored its cancellation"
