"""Guarantees 1 and 9 with the broker itself killed: redis-server SIGKILLed and restarted under
a flow of tasks, with its append-only file (``always`` and ``everysec``) or with its data gone."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.faults import chaos_app
from tests.faults.conftest import VISIBILITY_TIMEOUT, Record, chaos_workers
from tests.faults.flow import Flow, Job, mixed_jobs, produce, queue_empty
from tests.integration.runtime.conftest import WorkerFactory, bound_runtime, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(240)]

TASKS = 10_000
WORKERS = 2
CONCURRENCY = 8
PREFETCH = 4  # the runtime's default worker_prefetch_multiplier
# What the workers can hold at once: the most a broker crash can make run twice.
IN_FLIGHT = WORKERS * CONCURRENCY * PREFETCH
# Redis's documentation: with everysec, "you can lose one second worth of data"; when the
# disk is slow to fsync, up to two.
EVERYSEC_WINDOW = 2.0


@dataclass
class Outage:
    """When the broker was killed and how long it stayed down."""

    killed_at: float
    down_seconds: float


async def crash(server: servers.PrivateRedis, *, keep_data: bool, down: float = 0.5) -> Outage:
    """SIGKILL redis-server, leave it down a moment, start it again on the same port."""
    killed_at = time.monotonic()
    server.kill()
    await asyncio.sleep(down)
    await asyncio.to_thread(server.restart, keep_data=keep_data)
    return Outage(killed_at, round(time.monotonic() - killed_at, 2))


async def flow_through_crashes(
    server: servers.PrivateRedis,
    factory: WorkerFactory,
    flow: Flow,
    jobs: list[Job],
    crashes: int,
) -> tuple[list[Outage], list[int]]:
    """Run ``jobs`` through two workers while the broker is crashed ``crashes`` times;
    return the outages and the worker pids, which must not change."""
    workers = [factory.start(concurrency=CONCURRENCY) for _ in range(WORKERS)]
    pids = [w.pid for w in workers]
    producer = asyncio.create_task(produce(flow, jobs))
    outages = []
    for _ in range(crashes):
        await asyncio.sleep(1.5)
        outages.append(await crash(server, keep_data=True))
    await producer
    assert all(w.alive() for w in workers), "a worker died with the broker"
    return outages, pids


async def test_redis_sigkilled_with_appendfsync_always_loses_nothing(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """redis-server (appendfsync always) SIGKILLed and restarted twice while 10,000 tasks
    flow: every task whose enqueue returned finishes, on the same worker processes, and
    extra executions stay within what the workers held."""
    seed = random.randrange(2**32)
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        flow = Flow(rt, ledger)
        try:
            outages, pids = await flow_through_crashes(
                private_redis, factory, flow, mixed_jobs(TASKS, random.Random(seed)), crashes=2
            )
            await flow.wait_finished(timeout=150)
            audit = await flow.audit()
            assert [w.pid for w in factory.started] == pids
            assert all(w.alive() for w in factory.started), "no worker needs a restart"
        finally:
            factory.reap()
    record(
        **audit.figures(),
        seed=seed,
        appendfsync="always",
        redis_kills=len(outages),
        down_seconds=[o.down_seconds for o in outages],
        enqueues_refused=flow.failed_sends,
        bound=IN_FLIGHT * len(outages),
        worker_restarts=0,
    )
    assert audit.lost == [], f"lost (seed {seed}): {audit.lost[:20]}"
    assert audit.wrong_state == []
    assert audit.unexpected_attempts == []
    assert audit.dead_letters == audit.expected_dead_letters
    assert audit.duplicates <= IN_FLIGHT * len(outages)


async def test_redis_sigkilled_with_appendfsync_everysec_loses_at_most_the_last_second(
    key_prefix: str, ledger: Redis, redis_url: str, tmp_path: Path, record: Record
) -> None:
    """redis-server (appendfsync everysec) SIGKILLed mid-flow: tasks whose enqueue returned
    more than two seconds before the kill all finish; only the last second or two may go."""
    seed = random.randrange(2**32)
    with servers.private_redis(tmp_path, "everysec") as server:
        factory = chaos_workers(server.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
        async with bound_runtime(chaos_app.runtime, server.url, key_prefix) as rt:
            flow = Flow(rt, ledger)
            try:
                jobs = mixed_jobs(5_000, random.Random(seed))
                outages, _ = await flow_through_crashes(server, factory, flow, jobs, crashes=1)

                async def drained() -> bool:
                    return await queue_empty(rt)

                await wait_until(drained, timeout=60, interval=0.25)
                audit = await flow.audit()
                assert all(w.alive() for w in factory.started), "no worker needs a restart"
            finally:
                factory.reap()
    killed_at = outages[0].killed_at
    ages = [round(killed_at - flow.returned_at[i], 3) for i in audit.lost]
    record(
        **audit.figures(),
        seed=seed,
        appendfsync="everysec",
        redis_kills=1,
        down_seconds=[outages[0].down_seconds],
        enqueues_refused=flow.failed_sends,
        lost_enqueued_seconds_before_kill=max(ages, default=None),
        worker_restarts=0,
    )
    assert all(age <= EVERYSEC_WINDOW for age in ages), f"lost tasks older than 2 s: {ages}"
    assert audit.unexpected_attempts == []


async def test_redis_restarted_without_its_data_workers_carry_on(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """redis-server restarted with its data gone, twice, mid-flow: the same workers recreate
    their streams and groups and run every task (immediate and delayed) sent afterwards."""
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    rng = random.Random()
    audits = []
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        try:
            workers = [factory.start(concurrency=CONCURRENCY) for _ in range(WORKERS)]
            await Flow(rt, ledger).send(mixed_jobs(2_000, rng))
            await asyncio.sleep(1.0)
            for round_ in range(1, 3):
                # The wipe takes the results of earlier rounds with it: audit each round alone.
                await crash(private_redis, keep_data=False)
                after = Flow(rt, ledger)
                await produce(after, mixed_jobs(1_000, rng, start=10_000 * round_))
                await after.wait_finished(timeout=60)
                audits.append(await after.audit())
            assert all(w.alive() for w in workers), "no worker needs a restart"
            recreated = sum("consumer_group_recreated" in w.output() for w in workers)
        finally:
            factory.reap()
    record(
        tasks_after_wipes=sum(a.sent for a in audits),
        lost=sum(len(a.lost) for a in audits),
        duplicates=sum(a.duplicates for a in audits),
        redis_restarts_without_data=len(audits),
        workers_that_recreated_the_group=recreated,
        worker_restarts=0,
    )
    for audit in audits:
        assert audit.sent >= 900
        assert audit.lost == []
        assert audit.wrong_state == []
        assert audit.dead_letters == audit.expected_dead_letters
    assert recreated >= 1
