"""Shared limits across worker processes: a rate limit, concurrency caps, and the slot of a
SIGKILLed worker coming back after the visibility timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.runtime import apps, limited
from tests.integration.runtime.conftest import (
    WorkerFactory,
    runs,
    start_times,
    wait_settled,
    wait_until,
    worker_env,
)
from waasp.runtime import SUCCESS, Runtime, Worker

APP = "tests.integration.runtime.limited:runtime"


@pytest.fixture
def limited_workers(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Workers of the limited tasks (visibility timeout 2 s)."""
    factory = WorkerFactory(worker_env(redis_url, key_prefix, 2.0), tmp_path, app=APP)
    try:
        yield factory
    finally:
        factory.reap()


async def test_reservations_space_waiters_one_interval_apart(runtime: Runtime) -> None:
    """Takes that find no token reserve consecutive slots; a slot claimed in time goes
    without a second token, one claimed far too late takes afresh."""
    rates = runtime.broker.rates
    first = await rates.reserve("test", 10.0, [0, 0, 0, 0])
    assert first.waits_ms[0] == 0
    assert [w > 0 for w in first.waits_ms[1:]] == [True, True, True]
    gaps = [b - a for a, b in zip(first.waits_ms[1:], first.waits_ms[2:], strict=False)]
    assert all(95 <= gap <= 105 for gap in gaps), first.waits_ms
    slot = first.now_ms + first.waits_ms[1]
    await wait_until(lambda: _server_ms_past(runtime, slot))
    again = await rates.reserve("test", 10.0, [slot, 1])
    assert again.waits_ms[0] == 0, "a reservation claimed on time runs without a token"
    assert again.waits_ms[1] > 0, "a stale claim queues behind the reserved slots"


async def _server_ms_past(runtime: Runtime, ms: int) -> bool:
    seconds, micros = await runtime.broker.client.time()
    return bool(seconds * 1000 + micros // 1000 >= ms)


@pytest.mark.slow
async def test_rate_limit_holds_across_four_worker_processes(
    runtime: Runtime, limited_workers: WorkerFactory
) -> None:
    """rate_limit="20/s" with 4 workers runs 200 ± 20 tasks in 10 s, and a task without a
    limit sent meanwhile runs while the limited backlog still waits (no executor is held)."""
    for _ in range(4):
        limited_workers.start(concurrency=4)

    async def all_up() -> bool:  # the window should not measure four interpreters starting
        return len(await runtime.broker.workers.names()) == 4

    await wait_until(all_up, timeout=60)
    results = await runtime.send_many([limited.rated.s(i) for i in range(400)])

    async def began() -> bool:
        return await runs(runtime, "rated") > 0

    await wait_until(began, timeout=60)
    first = min(await start_times(runtime, "rated"))
    quick = await apps.add.delay(1, 2)
    assert await quick.get(timeout=30) == 3
    assert await runs(runtime, "rated") < 300, "the quick task waited for the limited backlog"

    async def window_over() -> bool:
        return time.time() > first + 10.0

    await wait_until(window_over, timeout=60, interval=0.1)
    in_window = [t for t in await start_times(runtime, "rated") if t < first + 10.0]
    gaps = [round(b - a, 3) for a, b in zip(sorted(in_window), sorted(in_window)[1:], strict=False)]
    assert 180 <= len(in_window) <= 220, (len(in_window), gaps)
    assert await results[0].state() == SUCCESS


async def test_max_concurrency_holds_across_four_worker_processes(
    runtime: Runtime, limited_workers: WorkerFactory
) -> None:
    """max_concurrency=2 with 4 workers: never more than 2 run at once (the ledger each task
    writes in Redis says so), and every task completes."""
    results = [await limited.capped.delay(0.3) for _ in range(12)]
    for _ in range(4):
        limited_workers.start(concurrency=4)
    for result in results:
        assert 1 <= await result.get(timeout=60) <= 2
    peaks = [int(p) for p in await runtime.broker.client.lrange(limited.ledger_key("peaks"), 0, -1)]
    assert len(peaks) == 12
    assert max(peaks) <= 2, peaks
    await wait_settled(runtime)
    assert await runtime.broker.slots.held(limited.capped.name) == 0, "every lease given back"


@pytest.mark.slow
async def test_a_sigkilled_workers_slot_returns_after_the_visibility_timeout(
    runtime: Runtime, limited_workers: WorkerFactory
) -> None:
    """A worker SIGKILLed while its max_concurrency=1 task runs keeps the slot only until the
    visibility timeout: the next task of that name then runs on another worker."""
    long_run = await limited.single.delay(120)
    doomed = limited_workers.start(concurrency=2)

    async def running() -> bool:
        return await runs(runtime, "single") == 1

    await wait_until(running, timeout=30)
    assert await runtime.broker.slots.held(limited.single.name) == 1
    doomed.kill()
    limited_workers.start(concurrency=2)
    after = await limited.single.delay(0)
    assert await after.get(timeout=60) >= 2
    assert await long_run.get(timeout=60) >= 2, "the killed run was reclaimed and rerun"
    assert await runs(runtime, "single") == 3


async def test_a_queue_rate_limit_defers_without_counting_starts_or_retries(
    runtime: Runtime,
) -> None:
    """task_queue_rate_limits spaces a queue's starts (ten at 10/s span at least 0.85 s);
    a deferred task is neither a start (broker_max_deliveries=1 dead-letters nothing) nor a
    retry."""
    runtime.conf.update(broker_max_deliveries=1, task_queue_rate_limits={"default": "10/s"})
    results = await runtime.send_many([apps.add.s(i, 0) for i in range(10)])
    await runtime.broker.register_queues(["default"])
    await Worker(runtime, ["default"], 4, burst=True).run()
    assert [await r.get(timeout=10) for r in results] == list(range(10))
    assert [(await r.meta()).retries for r in results] == [0] * 10
    assert sum((await runtime.dlq.count()).values()) == 0
    began = sorted(await start_times(runtime, "add"))
    assert began[-1] - began[0] >= 0.85, began


async def test_every_way_out_gives_the_concurrency_lease_back(runtime: Runtime) -> None:
    """Success, failure, a retry, a dead letter by hand, and a task abandoned at shutdown
    each give their max_concurrency lease back; a running one holds it."""
    kinds = ["ok", "fail", "retry", "reject"]
    results = [await limited.capped_outcome.delay(kind) for kind in kinds]
    await runtime.broker.register_queues(["default"])
    await Worker(runtime, ["default"], 4, burst=True).run()
    assert await results[0].get(timeout=10) == "ok"
    assert await results[2].get(timeout=10) == "retry"
    assert sum((await runtime.dlq.count()).values()) == 2
    assert await runtime.broker.slots.held(limited.capped_outcome.name) == 0

    stuck = await limited.single.delay(120)
    worker = Worker(runtime, ["default"], 2, shutdown_timeout=0.2)
    running = asyncio.create_task(worker.run())

    async def started() -> bool:
        return await runs(runtime, "single") == 1

    await wait_until(started, timeout=15)
    assert await runtime.broker.slots.held(limited.single.name) == 1
    worker.stop()
    await asyncio.wait_for(running, timeout=30)
    assert await runtime.broker.slots.held(limited.single.name) == 0, "abandoned: given back"
    assert await stuck.state() != SUCCESS


async def test_a_retry_takes_a_token_of_its_own(runtime: Runtime) -> None:
    """At 2/s, a task that waited for its reserved slot and then retried at once does not
    reuse that slot: its retry starts at least an interval later."""
    first = await limited.rated_retry.delay("a")
    second = await limited.rated_retry.delay("b")  # deferred to a reserved slot
    await runtime.broker.register_queues(["default"])
    await Worker(runtime, ["default"], 4, burst=True).run()
    assert (await first.get(timeout=10), await second.get(timeout=10)) == (1, 1)
    attempts = sorted(await start_times(runtime, "b"))
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.45, attempts
