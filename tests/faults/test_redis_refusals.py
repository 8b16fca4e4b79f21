"""Guarantee 9 when Redis answers with an error instead of going away: out of memory under
noeviction, READONLY after the server turned replica, NOREPLICAS under min-replicas-to-write,
a stream deleted under a blocked read. The same worker process waits each out, finishes
every task, and logs the outage once and its end once; a refusal waiting cannot cure stops it
with one line, not a traceback."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.faults import chaos_app, refusals
from tests.faults.conftest import VISIBILITY_TIMEOUT, chaos_workers
from tests.faults.flow import Flow, mixed_jobs
from tests.integration.runtime.conftest import bound_runtime, wait_until
from waasp.runtime import Runtime

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 1_500
HOLD = 3.0  # how long Redis says no


async def refuse_mid_flow(
    server: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    refusal: refusals.Refusal,
) -> None:
    """Run JOBS tasks through one worker; once they run, let Redis refuse for HOLD seconds,
    then restore it: the worker lives on, every task ends as it should, one outage is
    logged."""
    factory = chaos_workers(server.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    async with bound_runtime(chaos_app.runtime, server.url, key_prefix) as rt:
        flow = Flow(rt, ledger)
        try:
            worker = factory.start(concurrency=8)
            assert await flow.send(mixed_jobs(JOBS, random.Random())) == []

            async def running() -> bool:
                return sum((await flow.executions()).values()) >= 50

            await wait_until(running, timeout=60)
            await refusal.refuse()
            await asyncio.sleep(HOLD)
            assert worker.alive(), worker.output()[-4000:]
            await refusal.restore()
            await flow.wait_finished(timeout=120)
            audit = await flow.audit()
            assert worker.alive(), worker.output()[-4000:]

            async def recovered() -> bool:
                return refusals.logged(worker, "redis_recovered") > 0

            await wait_until(recovered, timeout=30)
        finally:
            factory.reap()
    assert audit.lost == []
    assert audit.wrong_state == []
    assert audit.unexpected_attempts == []
    assert audit.dead_letters == audit.expected_dead_letters
    assert refusals.logged(worker, "redis_unavailable") == 1, worker.output()[-4000:]
    assert refusals.logged(worker, "redis_recovered") == 1, worker.output()[-4000:]


async def test_out_of_memory_is_waited_out(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """maxmemory set below what Redis holds (noeviction) while tasks run: results, settles and
    heartbeats are refused with OOM for a while; nothing is lost, the worker lives on."""
    admin = Redis.from_url(private_redis.url)
    try:
        refusal = refusals.out_of_memory(admin)
        await refuse_mid_flow(private_redis, key_prefix, ledger, redis_url, tmp_path, refusal)
    finally:
        await admin.aclose()


async def test_no_replicas_is_waited_out(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """min-replicas-to-write 1 with no replica: every write is refused with NOREPLICAS for a
    while; nothing is lost, the worker lives on."""
    admin = Redis.from_url(private_redis.url)
    try:
        refusal = refusals.no_replicas(admin)
        await refuse_mid_flow(private_redis, key_prefix, ledger, redis_url, tmp_path, refusal)
    finally:
        await admin.aclose()


async def test_turned_replica_and_back_is_waited_out(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """The workers' server turned into a replica of a second server (REPLICAOF, after a
    lossless switch) and back: READONLY writes and UNBLOCKED reads for a while; nothing is
    lost, the worker lives on."""
    (tmp_path / "replica").mkdir()
    with servers.private_redis(tmp_path / "replica") as other:
        admin, second = Redis.from_url(private_redis.url), Redis.from_url(other.url)
        try:
            await refusals.follow(second, private_redis, admin)
            refusal = refusals.turned_replica(admin, private_redis, second, other)
            await refuse_mid_flow(private_redis, key_prefix, ledger, redis_url, tmp_path, refusal)
        finally:
            await admin.aclose()
            await second.aclose()


async def test_stream_deleted_under_a_blocked_read(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """The queue's stream deleted while the worker blocks reading it ("UNBLOCKED the stream
    key no longer exists"), three times: the worker recreates stream and group and runs what
    is sent afterwards."""
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, 2.0)
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        try:
            worker = factory.start(concurrency=4)
            await wait_for_group(rt)
            stream = rt.keys.queue("default").stream
            for _ in range(3):
                await asyncio.sleep(0.5)  # the idle worker spends its time in XREADGROUP BLOCK
                await rt.broker.client.delete(stream)
            await asyncio.sleep(1.0)
            assert worker.alive(), worker.output()[-4000:]
            flow = Flow(rt, ledger)
            assert await flow.send(mixed_jobs(200, random.Random())) == []
            await flow.wait_finished(timeout=60)
            audit = await flow.audit()
            assert worker.alive(), worker.output()[-4000:]
        finally:
            factory.reap()
    assert audit.lost == []
    assert "consumer_group_recreated" in worker.output()


async def wait_for_group(rt: Runtime) -> None:
    """Wait until a worker has created the default queue's consumer group."""

    async def created() -> bool:
        return bool(await rt.broker.client.exists(rt.keys.queue("default").stream))

    await wait_until(created, timeout=30)


async def test_a_refusal_waiting_cannot_cure_stops_the_worker_in_one_line(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """A queue's delay set holding a string (WRONGTYPE for every promote): the worker stops
    with exit 1 and one line naming the loop and the reply, not a traceback."""
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, 2.0)
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        await rt.broker.client.set(rt.keys.queue("default").delayed, "not a sorted set")
        try:
            worker = factory.start(concurrency=2)
            code = await worker.exited(timeout=60)
        finally:
            factory.reap()
    output = worker.output()
    assert code == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Redis refused" in lines[0] and "WRONGTYPE" in lines[0], lines
