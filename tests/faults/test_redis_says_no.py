"""Guarantees 1 and 9 when Redis says no: during a 10,000-task flow the broker refuses writes
for 5 s (maxmemory below what it holds, under noeviction), or turns replica of a second
server with REPLICAOF and back. The same worker processes carry on: every task whose enqueue
returned runs, extra executions stay within what the workers held, and each worker logs the
outage once and its end once."""

from __future__ import annotations

import asyncio
import functools
import random
import time

import pytest

from tests.faults import refusals
from tests.faults.conftest import Record, Scene
from tests.faults.flow import Flow, mixed_jobs, produce
from tests.faults.test_redis_kills import CONCURRENCY, IN_FLIGHT, TASKS, WORKERS
from tests.integration.runtime.conftest import WorkerProcess, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

# The flow of the broker-kill scenarios, so that the figures compare. IN_FLIGHT, what the
# workers can hold at once, bounds the duplicates here too: a refusal long enough for leases
# to lapse (READONLY and NOREPLICAS refuse the renewals too) lets another worker take them
# over once Redis takes writes again, and at most that many run twice.
REFUSAL_SECONDS = 5.0
MID_FLOW = 2.0  # seconds of flow before Redis says no


async def say_no_mid_flow(scene: Scene, refusal: refusals.Refusal, record: Record) -> None:
    """Run TASKS tasks through WORKERS workers while Redis refuses for REFUSAL_SECONDS;
    audit and record the figures."""
    seed = random.randrange(2**32)
    async with scene.runtime() as rt:
        flow = Flow(rt, scene.ledger)
        workers = [scene.workers.start(concurrency=CONCURRENCY) for _ in range(WORKERS)]
        producer = asyncio.create_task(produce(flow, mixed_jobs(TASKS, random.Random(seed))))
        await asyncio.sleep(MID_FLOW)
        began = time.monotonic()
        await refusal.refuse()
        await asyncio.sleep(REFUSAL_SECONDS)
        await refusal.restore()
        refused_for = round(time.monotonic() - began, 1)
        await producer
        assert all(w.alive() for w in workers), "a worker died of the refusal"
        await flow.wait_finished(timeout=150)
        audit = await flow.audit()
        await wait_until(functools.partial(recovered, workers), timeout=30)
        assert all(w.alive() for w in scene.workers.started), "no worker needs a restart"
        assert len(scene.workers.started) == WORKERS
    outages = [refusals.logged(w, "redis_unavailable") for w in workers]
    recoveries = [refusals.logged(w, "redis_recovered") for w in workers]
    record(
        **audit.figures(),
        seed=seed,
        refusal=refusal.name,
        refused_seconds=refused_for,
        enqueues_refused=flow.failed_sends,
        bound=IN_FLIGHT,
        worker_restarts=0,
        outages_logged=outages,
        recoveries_logged=recoveries,
    )
    assert audit.lost == [], f"lost (seed {seed}): {audit.lost[:20]}"
    assert audit.wrong_state == []
    assert audit.unexpected_attempts == []
    assert audit.dead_letters == audit.expected_dead_letters
    assert audit.duplicates <= IN_FLIGHT
    assert outages == [1] * WORKERS, outages
    assert recoveries == [1] * WORKERS, recoveries


async def recovered(workers: list[WorkerProcess]) -> bool:
    """Whether every worker logged the end of the outage."""
    return all(refusals.logged(w, "redis_recovered") for w in workers)


@pytest.mark.parametrize("kind", ["oom", "replicaof"])
async def test_redis_says_no_for_five_seconds_loses_nothing(
    kind: str, scene: Scene, record: Record
) -> None:
    """While 10,000 tasks flow, the broker refuses writes for 5 s (``oom``: maxmemory below
    what it holds, under noeviction), or is made a replica of a second private server for 5 s
    and back (``replicaof``): every enqueue that returned runs, on the same workers."""
    async with refusals.refusal(kind, scene.server, scene.tmp) as refusal:
        await say_no_mid_flow(scene, refusal, record)
