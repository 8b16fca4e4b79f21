"""Cron ticks when the last-fired-tick key is lost (evicted, deleted, or Redis restarted
without its data): no scheduler fires a tick that another one fired already."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.integration.runtime.schedulers import TASK, fired
from tests.servers import PrivateRedis
from waasp.runtime import Runtime
from waasp.runtime.broker import ANY_REDIS_ERROR
from waasp.runtime.cron.scheduler import Scheduler

# A period long enough that the whole test runs between two ticks, even on a loaded machine.
PERIOD = 6
ENTRIES = {"slow": {"task": TASK, "schedule": PERIOD, "options": {"queue": "beat"}}}


@pytest.fixture
async def runtimes(private_redis: PrivateRedis) -> AsyncIterator[list[Runtime]]:
    """Three runtimes (one per scheduler, each with its own client) under one fresh prefix."""
    prefix = f"tick-loss-{uuid.uuid4().hex[:8]}"
    group = [Runtime("waasp", broker_url=private_redis.url, key_prefix=prefix) for _ in range(3)]
    yield group
    for rt in group:
        await rt.close()


async def retrying(work: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Await ``work()``, retrying while the freshly restarted server is not answering yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await work()
        except ANY_REDIS_ERROR:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def fire_first_tick(leader: Scheduler, timeout: float = 3 * PERIOD) -> None:
    """Run the leader's passes until it has fired one tick."""
    async with asyncio.timeout(timeout):
        while not leader.fired:
            await asyncio.sleep(await leader.run_pass())


async def test_deleted_tick_key_does_not_fire_the_tick_again(runtimes: list[Runtime]) -> None:
    """A tick fired by one scheduler is not fired again by the others once its key is deleted."""
    leader, *followers = group = [Scheduler(rt, ENTRIES) for rt in runtimes]
    for scheduler in group:
        await scheduler.run_pass()  # each one starts before the tick
    await fire_first_tick(leader)
    for scheduler in followers:
        await scheduler.run_pass()  # they read the stored tick, and have nothing to do
    rt = runtimes[0]
    await rt.broker.client.delete(rt.keys.queue("beat").cron("slow"))
    for scheduler in group:
        await scheduler.run_pass()
    ticks = await fired(rt)
    assert [f.task_id for f in ticks] == [ticks[0].task_id], "a tick was enqueued twice"
    assert sum(s.fired for s in group) == 1


@pytest.mark.slow
async def test_redis_restarted_without_data_does_not_fire_the_tick_again(
    private_redis: PrivateRedis, runtimes: list[Runtime]
) -> None:
    """After Redis restarts empty, schedulers that knew the last tick do not fire it again."""
    leader, *followers = group = [Scheduler(rt, ENTRIES) for rt in runtimes]
    for scheduler in group:
        await scheduler.run_pass()
    await fire_first_tick(leader)
    for scheduler in followers:
        await scheduler.run_pass()
    before = await fired(runtimes[0])
    private_redis.restart(keep_data=False)
    for scheduler in group:
        await retrying(scheduler.run_pass)
    after = await retrying(lambda: fired(runtimes[0]))
    assert len(before) == 1
    assert after == [], f"fired again after the restart: {after}"
    assert sum(s.fired for s in group) == 1
