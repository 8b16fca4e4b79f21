"""A worker or scheduler cancelled at any moment of its start-up ends."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any

from waasp.runtime import Runtime, Scheduler, Worker

ATTEMPTS = 40
GIVE_UP = 15.0  # seconds a cancelled task may take to end, on a loaded machine


async def cancel_early(
    seed: int, make: Callable[[], tuple[Coroutine[Any, Any, None], Callable[[], None]]]
) -> None:
    """Start ``make()``'s coroutine, cancel it a random short while later, ATTEMPTS times;
    fail if one ignores its cancellation (after ending it with the stop callable)."""
    rng = random.Random(seed)
    for attempt in range(ATTEMPTS):
        run, stop = make()
        task = asyncio.create_task(run)
        for _ in range(rng.randrange(0, 6)):
            await asyncio.sleep(0)
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05]))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=GIVE_UP)
        if not done:
            stop()  # end it the polite way, so the test does not leak it
            await asyncio.wait([task], timeout=GIVE_UP)
        assert done, f"attempt {attempt}: the task ignored its cancellation"


async def test_worker_cancelled_during_start_up_ends(runtime: Runtime) -> None:
    """Cancelling Worker.run() early in its start-up ends it: the cancellation is never lost
    inside a Redis command (redis-py can return normally from a cancelled call)."""

    def make() -> tuple[Coroutine[Any, Any, None], Callable[[], None]]:
        worker = Worker(runtime, ["default"], 2)
        return worker.run(), worker.stop

    await cancel_early(1317, make)


async def test_scheduler_cancelled_during_start_up_ends(runtime: Runtime) -> None:
    """Cancelling Scheduler.run() early in its start-up ends it."""

    def make() -> tuple[Coroutine[Any, Any, None], Callable[[], None]]:
        scheduler = Scheduler(runtime, {"tick": {"task": "t.noop", "schedule": 3600}})
        return scheduler.run(), scheduler.stop

    await cancel_early(1318, make)
