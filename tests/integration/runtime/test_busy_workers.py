"""Busy workers (issue 13, item 9): a worker whose executors are all busy is not stalled."""

from __future__ import annotations

import asyncio
import time

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import runs, wait_until
from waasp.api.readiness import worker_probe
from waasp.runtime import STARTED, Runtime, Worker
from waasp.runtime.monitor import workers as live_workers


async def test_busy_worker_is_not_stalled(runtime: Runtime) -> None:
    """A worker whose only executor is busy for longer than the stall threshold (its reader
    waiting for a free slot) is busy, not stalled: not in its heartbeat, not to /readyz."""
    runtime.conf.update(worker_heartbeat_interval=0.1)
    worker = Worker(runtime, concurrency=1, prefetch_multiplier=1)
    worker.heartbeat.stall_after = 2.0
    probe = worker_probe(worker)
    running = asyncio.create_task(worker.run())
    try:
        result = await apps.sleepy.delay("busy", 8.0)

        async def started() -> bool:
            return await result.state() == STARTED

        await wait_until(started, timeout=15)
        await apps.add.delay(1, 1)  # waits behind it: the reader has no free slot
        until = time.monotonic() + 3 * worker.heartbeat.stall_after
        while time.monotonic() < until:
            await probe.check()  # raises when the probe finds the worker stalled
            assert not worker.heartbeat.stalled
            await asyncio.sleep(0.1)
        [info] = await live_workers(runtime)
        assert info["stalled"] is False and info["running"] == 1
        assert await runs(runtime, "sleepy-done:busy") == 0, "still busy throughout"
    finally:
        worker.stop()
        await running
