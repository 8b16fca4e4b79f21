"""``broker_max_deliveries`` counts the times a message started without finishing: messages a
crashing worker only prefetched are redelivered freely, and a hand-back keeps the count."""

from __future__ import annotations

import signal

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    runs,
    start_until_failed,
    stream_state,
    wait_settled,
    wait_until,
)
from waasp.runtime import FAILURE, Runtime

MAX_STARTS = 3


@pytest.mark.slow
async def test_a_poison_message_does_not_dead_letter_the_tasks_prefetched_with_it(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A task that os._exit()s its worker, with three tasks prefetched behind it (one executor,
    prefetch 4): after ``broker_max_deliveries`` crashes the poison alone is dead-lettered, and
    the three innocent tasks, redelivered with it every time, run once and succeed."""
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.4", "WAASP_TEST_MAX_DELIVERIES": str(MAX_STARTS)}
    poison = await apps.exit_own_worker.delay("prefetched")
    innocent = [await apps.ping.delay(f"innocent-{i}") for i in range(3)]
    prefetch = ("--prefetch-multiplier", "4")
    worker = await start_until_failed(
        workers, poison, MAX_STARTS + 2, concurrency=1, env=env, extra_args=prefetch
    )
    assert worker.alive(), "the last worker survived the poison"
    assert await runs(runtime, "poison:prefetched") == MAX_STARTS
    for i, result in enumerate(innocent):
        assert await result.get(timeout=30) == f"innocent-{i}"
        assert await runs(runtime, f"ping:innocent-{i}") == 1
    letters = await runtime.dlq.list()
    assert [(x.reason, x.message and x.message.id) for x in letters] == [
        ("max_deliveries", poison.id)
    ]
    await wait_settled(runtime)


@pytest.mark.slow
async def test_handing_back_at_sigterm_keeps_the_start_count(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A task that never finishes within the shutdown timeout is handed back at every SIGTERM;
    the hand-back keeps its start count, so it is dead-lettered after ``broker_max_deliveries``
    starts instead of running for ever."""
    env = {"WAASP_TEST_MAX_DELIVERIES": "2", "WAASP_TEST_SHUTDOWN_TIMEOUT": "0.2"}
    result = await apps.hangs.delay("forever")
    for start in (1, 2):
        worker = workers.start(concurrency=1, env=env)

        async def started(count: int = start) -> bool:
            return await runs(runtime, "hangs:forever") == count

        await wait_until(started, timeout=30)
        worker.signal(signal.SIGTERM)
        assert await worker.exited(timeout=30) == 0, worker.output()
        assert await stream_state(runtime) == (1, 0), "handed back, not acknowledged"
    last = workers.start(concurrency=1, env=env)

    async def dead() -> bool:
        return await result.state() == FAILURE or await runs(runtime, "hangs:forever") > 2

    await wait_until(dead, timeout=30)
    assert await runs(runtime, "hangs:forever") == 2
    meta = await result.meta()
    assert meta.error is not None and meta.error.type == "MaxDeliveriesExceeded", meta
    await wait_settled(runtime, dead=1)
    assert last.alive(), last.output()
