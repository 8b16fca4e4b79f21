"""Busy, blocked and stopping workers keep what they hold (issue 13, items 3, 5 and 9): a
busy worker is not stalled, a blocked event loop keeps its leases, and SIGTERM never hands
back an entry whose thread still runs."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import orjson
import pytest

from tests.integration.runtime import apps, unruly
from tests.integration.runtime.conftest import (
    WorkerFactory,
    WorkerProcess,
    runs,
    wait_settled,
    wait_until,
)
from waasp.api.readiness import worker_probe
from waasp.runtime import STARTED, Runtime, Worker
from waasp.runtime.monitor import workers as live_workers


def events(worker: WorkerProcess, name: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines whose event is ``name``."""
    found = []
    for line in worker.output().splitlines():
        if line.startswith("{"):
            entry = orjson.loads(line)
            if entry.get("event") == name:
                found.append(entry)
    return found


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


@pytest.mark.slow
async def test_blocked_event_loop_keeps_its_leases(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """A task that blocks its worker's event loop for many visibility timeouts is not run a
    second time by the other worker, and the blocked worker's log names the task."""
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.8"}
    pair = [unruly_workers.start(concurrency=1, env=env) for _ in range(2)]

    async def both_live() -> bool:
        return len(await live_workers(runtime)) == 2

    await wait_until(both_live, timeout=30)
    result = await unruly.blocks_loop.delay("b", 5.0)
    assert await result.get(timeout=30) == "b"
    await wait_settled(runtime)
    assert await runs(runtime, "blocks:b") == 1
    assert not any(events(w, "entries_reclaimed") for w in pair)
    blocked = [e for w in pair for e in events(w, "event_loop_blocked")]
    assert [(e["task"], e["task_id"]) for e in blocked] == [(unruly.blocks_loop.name, result.id)]
    assert all(w.alive() for w in pair)


@pytest.mark.slow
async def test_sigterm_waits_for_a_running_thread(
    runtime: Runtime, unruly_workers: WorkerFactory
) -> None:
    """SIGTERM while a sync task's thread runs past the shutdown timeout: its entry is kept
    (renewed) rather than handed back, the worker says it waits, settles the task when the
    thread ends and exits 0; a second worker never runs it."""
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.8", "WAASP_TEST_SHUTDOWN_TIMEOUT": "0.3"}
    first = unruly_workers.start(concurrency=1, env=env)
    result = await unruly.sync_sleeps.delay("t", 5.0)

    async def thread_started() -> bool:
        return await runs(runtime, "sync-sleeps:t") == 1

    await wait_until(thread_started, timeout=30)
    first.signal(signal.SIGTERM)
    second = unruly_workers.start(concurrency=1, env=env)
    assert await result.get(timeout=30) == "t"
    assert await first.exited(timeout=30) == 0, first.output()
    await wait_settled(runtime)
    assert await runs(runtime, "sync-sleeps:t") == 1
    assert await runs(runtime, "sync-sleeps-done:t") == 1
    [waiting] = events(first, "worker_waiting_for_threads")
    assert waiting["tasks"] == [unruly.sync_sleeps.name]
    assert not events(first, "entries_handed_back")
    assert not events(second, "entries_reclaimed")
    assert second.alive()
