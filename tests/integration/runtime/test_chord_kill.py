"""A chord of 100 whose worker is SIGKILLed mid-chord: the callback still runs exactly once."""

from __future__ import annotations

import pytest

from tests.integration.runtime import flow_app
from tests.integration.runtime.conftest import (
    WorkerFactory,
    bound_runtime,
    stream_state,
    wait_until,
)
from waasp.runtime import chord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MEMBERS = 100


async def test_chord_survives_a_sigkilled_worker(
    redis_url: str, key_prefix: str, workers: WorkerFactory
) -> None:
    """100 members; the worker running them is SIGKILLed once a third have run, and another
    finishes: the members it held are redelivered, and the callback runs exactly once, with
    every result in order."""
    workers.app = "tests.integration.runtime.flow_app:runtime"
    async with bound_runtime(flow_app.runtime, redis_url, key_prefix) as rt:
        header = (flow_app.square.s(i, 0.2) for i in range(MEMBERS))
        res = await chord(header, flow_app.total.s()).apply_async()
        first = workers.start(concurrency=8)
        runs_key = flow_app.key(rt, "square_runs")

        async def a_third_ran() -> bool:
            return int(await rt.broker.client.get(runs_key) or 0) >= MEMBERS // 3

        await wait_until(a_third_ran, timeout=60)
        first.kill()
        callback_key = flow_app.key(rt, "callback_runs")
        assert await rt.broker.client.get(callback_key) is None  # killed mid-chord
        workers.start(concurrency=8)
        assert await res.get(timeout=120) == sum(i * i for i in range(MEMBERS))

        async def settled() -> bool:
            return await stream_state(rt) == (0, 0)

        await wait_until(settled, timeout=60)
        callbacks = await rt.broker.client.get(callback_key)
        args = await rt.broker.client.lrange(flow_app.key(rt, "callback_args"), 0, -1)
        runs = int(await rt.broker.client.get(runs_key) or 0)
    assert int(callbacks or 0) == 1
    assert args == [repr([i * i for i in range(MEMBERS)]).encode()]
    assert runs >= MEMBERS  # the killed worker's members ran again
