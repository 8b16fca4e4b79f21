"""Guarantees 1 and 9 when Redis says no: during a 10,000-task flow the broker refuses writes
for 5 s (maxmemory below what it holds, under noeviction), or turns replica of a second
server with REPLICAOF and back. The same worker processes carry on: every task whose enqueue
returned runs, extra executions stay within what the workers held, and each worker logs the
outage once and its end once."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.faults import chaos_app, refusals
from tests.faults.conftest import VISIBILITY_TIMEOUT, Record, chaos_workers
from tests.faults.flow import Flow, Job, mixed_jobs
from tests.integration.runtime.conftest import WorkerProcess, bound_runtime, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

TASKS = 10_000
WORKERS = 2
CONCURRENCY = 8
PREFETCH = 4  # the runtime's default worker_prefetch_multiplier
# What the workers can hold at once. A refusal long enough for leases to lapse (READONLY and
# NOREPLICAS refuse the renewals too) lets another worker take them over once Redis takes
# writes again: at most this many run twice.
IN_FLIGHT = WORKERS * CONCURRENCY * PREFETCH
REFUSAL_SECONDS = 5.0
MID_FLOW = 2.0  # seconds of flow before Redis says no


async def produce(flow: Flow, jobs: list[Job], chunk: int = 100, pause: float = 0.02) -> None:
    """Send jobs a chunk at a time, re-sending what Redis refused (as a caller whose enqueue
    raised would)."""
    for i in range(0, len(jobs), chunk):
        await flow.send_until_taken(jobs[i : i + chunk])
        await asyncio.sleep(pause)


async def say_no_mid_flow(
    server: servers.PrivateRedis,
    refusal: refusals.Refusal,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """Run TASKS tasks through WORKERS workers while Redis refuses for REFUSAL_SECONDS;
    audit and record the figures."""
    seed = random.randrange(2**32)
    factory = chaos_workers(server.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    async with bound_runtime(chaos_app.runtime, server.url, key_prefix) as rt:
        flow = Flow(rt, ledger)
        try:
            workers = [factory.start(concurrency=CONCURRENCY) for _ in range(WORKERS)]
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
            await wait_until(lambda: recovered(workers), timeout=30)
            assert all(w.alive() for w in factory.started), "no worker needs a restart"
            assert len(factory.started) == WORKERS
        finally:
            factory.reap()
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


async def test_writes_refused_for_five_seconds_lose_nothing(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """maxmemory set below what Redis holds (noeviction) for 5 s while 10,000 tasks flow:
    every enqueue that returned runs, on the same workers, nothing is lost."""
    admin = Redis.from_url(private_redis.url)
    try:
        refusal = refusals.out_of_memory(admin)
        await say_no_mid_flow(
            private_redis, refusal, key_prefix, ledger, redis_url, tmp_path, record
        )
    finally:
        await admin.aclose()


async def test_replicaof_and_back_loses_nothing(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """The broker made a replica of a second private server (REPLICAOF) for 5 s and back
    while 10,000 tasks flow: every enqueue that returned runs, on the same workers."""
    (tmp_path / "replica").mkdir()
    with servers.private_redis(tmp_path / "replica") as other:
        admin, second = Redis.from_url(private_redis.url), Redis.from_url(other.url)
        try:
            await refusals.follow(second, private_redis, admin)
            refusal = refusals.turned_replica(admin, private_redis, second, other)
            await say_no_mid_flow(
                private_redis, refusal, key_prefix, ledger, redis_url, tmp_path, record
            )
        finally:
            await admin.aclose()
            await second.aclose()
