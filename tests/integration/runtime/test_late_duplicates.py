"""A worker that stalls past the visibility timeout loses its entries to another worker; when it
comes back, its late outcomes are discarded and what it had not started is not run.

Only a stopped process stalls so: a task that blocks the event loop does not, since the
watchdog thread renews the leases (test_busy_workers.py)."""

from __future__ import annotations

import signal

import pytest

from tests import servers
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    WorkerProcess,
    runs,
    stream_state,
    wait_until,
)
from waasp.runtime import SUCCESS, AsyncResult, Runtime

STALLED_ENV = {"WAASP_VISIBILITY_TIMEOUT": "0.6"}
# One executor and room for four: the tasks sent behind the stalled one wait in its buffer.
ONE_AT_A_TIME = ("--prefetch-multiplier", "4")


async def stop_and_check(
    runtime: Runtime, late: WorkerProcess, result: AsyncResult, tag: str
) -> None:
    """Stop the worker that finished late; the second execution's SUCCESS is the task's
    outcome (no retry, no dead letter), and the tasks queued behind it ran once."""
    late.signal(signal.SIGTERM)
    assert await late.exited(timeout=30) == 0, late.output()
    meta = await result.meta()
    assert (meta.state, meta.result) == (SUCCESS, "prompt"), meta
    assert await runs(runtime, f"outlived:{tag}") == 2
    delayed = runtime.keys.queue("default").delayed
    assert await runtime.broker.client.zcard(delayed) == 0, "no retry was scheduled"
    assert sum((await runtime.dlq.count()).values()) == 0, "no dead letter was written"
    assert await stream_state(runtime) == (0, 0)
    for i in range(2):
        assert await runs(runtime, f"ping:{tag}-{i}") == 1, "a lost entry ran twice"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ending", "results"),
    [("retry", "db 1"), ("fail", "db 1"), ("succeed", "db 1"), ("retry", "another server")],
)
async def test_a_stopped_workers_late_outcome_does_not_replace_the_final_state(
    runtime: Runtime,
    workers: WorkerFactory,
    request: pytest.FixtureRequest,
    ending: str,
    results: str,
) -> None:
    """Worker 1 is SIGSTOPped mid-task past the visibility timeout; worker 2 reclaims and
    finishes the task and the two tasks queued behind it. Resumed, worker 1 ends the task
    (retry, failure or another value): that outcome is discarded and logged, the state stays
    SUCCESS, and worker 1 drops the two entries it lost before starting them. The same holds
    with the results on a server of their own."""
    env = dict(STALLED_ENV)
    if results == "another server":
        server: servers.PrivateRedis = request.getfixturevalue("private_redis")
        await runtime.close()
        runtime.conf.update(result_backend=server.url)
        env["WAASP_RESULT_URL"] = server.url
    tag = f"stop-{ending}-{results.replace(' ', '-')}"
    first = await apps.outlived.delay(tag, ending)
    behind = [await apps.ping.delay(f"{tag}-{i}") for i in range(2)]
    stalled = workers.start(concurrency=1, env=env, extra_args=ONE_AT_A_TIME)

    async def first_started() -> bool:
        return await runs(runtime, f"outlived:{tag}") == 1

    await wait_until(first_started, timeout=20)
    stalled.signal(signal.SIGSTOP)
    try:
        rescuer = workers.start(concurrency=1, env=env)
        assert await first.get(timeout=30) == "prompt"
        for i, result in enumerate(behind):
            assert await result.get(timeout=30) == f"{tag}-{i}"
    finally:
        stalled.signal(signal.SIGCONT)

    async def late_outcome_settled() -> bool:
        meta = await first.meta()
        return "outcome_discarded" in stalled.output() or meta.result != "prompt"

    async def lost_entries_passed() -> bool:
        ran_twice = [await runs(runtime, f"ping:{tag}-{i}") for i in range(2)]
        return stalled.output().count("delivery_dropped") == 2 or max(ran_twice) > 1

    await wait_until(late_outcome_settled, timeout=30)
    await wait_until(lost_entries_passed, timeout=30)
    await stop_and_check(runtime, stalled, first, tag)
    assert rescuer.alive(), rescuer.output()
