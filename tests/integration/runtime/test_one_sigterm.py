"""Guarantee 8 with redis-py's cancellation quirk: one SIGTERM always stops a worker.

A Redis command cancelled just as its reply arrives can return normally (Python 3.11's
``asyncio.wait_for`` drops such a cancellation), so a service loop that does not look for its
own cancellation after each await runs on, and the worker ignores its first SIGTERM.
"""

from __future__ import annotations

import asyncio
import random
import signal

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    WorkerProcess,
    stream_state,
    wait_until,
)
from waasp.runtime import Runtime

ROUNDS = 20
SHUTDOWN_TIMEOUT = 3.0
# A worker holding many entries on a short visibility timeout renews them all the time, and
# delayed tasks falling due every millisecond keep its promoter asking Redis: its service
# loops are mid-command when the drain cancels them.
PREFETCH = "100"
ENV = {
    "WAASP_VISIBILITY_TIMEOUT": "0.05",
    "WAASP_TEST_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
}
BACKLOG = 3_000
DELAYED = 3_000


async def schedule_dense(runtime: Runtime, first: int, spread: float) -> None:
    """Schedule DELAYED no-op tasks falling due about every millisecond over ``spread`` s."""
    for start in range(0, DELAYED, 50):
        await asyncio.gather(
            *(
                apps.noop.apply_async((first + i,), countdown=0.3 + spread * i / DELAYED)
                for i in range(start, min(start + 50, DELAYED))
            )
        )


async def sigterm_once(runtime: Runtime, workers: WorkerFactory, pause: float) -> WorkerProcess:
    """Start a worker, let it consume for ``pause`` seconds, send it one SIGTERM, and return
    it once it exited."""
    worker = workers.start(concurrency=4, env=ENV, extra_args=("--prefetch-multiplier", PREFETCH))

    async def consuming() -> bool:
        _, pending = await stream_state(runtime)
        return pending > 0 or not worker.alive()

    await wait_until(consuming, timeout=30)
    await asyncio.sleep(pause)
    worker.signal(signal.SIGTERM)
    # The drain takes up to the shutdown timeout for running tasks and as long again for the
    # last acknowledgements; a worker that missed its cancellation never exits.
    await worker.exited(timeout=2 * SHUTDOWN_TIMEOUT + 10)
    return worker


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_one_sigterm_always_stops_a_busy_worker(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A busy worker sent exactly one SIGTERM at a random moment, 20 times over: it drains
    and exits 0 every time, within the drain's bound (no second signal needed)."""
    rng = random.Random()
    sent = 0
    for round_ in range(ROUNDS):
        waiting, _ = await stream_state(runtime)
        if waiting < BACKLOG:
            await runtime.send_many([apps.noop.s(sent + i) for i in range(BACKLOG)])
            sent += BACKLOG
        await schedule_dense(runtime, 10_000_000 + round_ * DELAYED, spread=3.0)
        worker = await sigterm_once(runtime, workers, rng.uniform(0.0, 1.0))
        code = worker.proc.returncode
        assert code == 0, f"round {round_}: exit {code}\n{worker.output()[-3000:]}"
