"""Guarantee 9 when Redis answers with an error instead of going away: out of memory under
noeviction, READONLY after the server turned replica, NOREPLICAS under min-replicas-to-write,
a stream deleted under a blocked read. The same worker process waits each out, finishes
every task, and logs the outage once and its end once; a refusal waiting cannot cure stops it
with one line, not a traceback."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.faults import refusals
from tests.faults.conftest import Scene
from tests.faults.flow import Flow, mixed_jobs
from tests.integration.runtime.conftest import wait_until
from waasp.runtime import Runtime

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 1_500
HOLD = 3.0  # how long Redis says no


async def refuse_mid_flow(scene: Scene, refusal: refusals.Refusal) -> None:
    """Run JOBS tasks through one worker; once they run, let Redis refuse for HOLD seconds,
    then restore it: the worker lives on, every task ends as it should, one outage is
    logged."""
    async with scene.runtime() as rt:
        flow = Flow(rt, scene.ledger)
        worker = scene.workers.start(concurrency=8)
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
    assert audit.lost == []
    assert audit.wrong_state == []
    assert audit.unexpected_attempts == []
    assert audit.dead_letters == audit.expected_dead_letters
    assert refusals.logged(worker, "redis_unavailable") == 1, worker.output()[-4000:]
    assert refusals.logged(worker, "redis_recovered") == 1, worker.output()[-4000:]


@pytest.mark.parametrize("kind", ["oom", "noreplicas", "replicaof"])
async def test_refusal_is_waited_out(kind: str, scene: Scene) -> None:
    """While tasks run, Redis refuses for a while: OOM (maxmemory below what it holds, under
    noeviction), NOREPLICAS (min-replicas-to-write 1, no replica), or READONLY writes and
    UNBLOCKED reads (made a replica of a second server with REPLICAOF, then master again).
    Nothing is lost, the worker lives on."""
    async with refusals.refusal(kind, scene.server, scene.tmp) as refusal:
        await refuse_mid_flow(scene, refusal)


async def test_stream_deleted_under_a_blocked_read(scene: Scene) -> None:
    """The queue's stream deleted while the worker blocks reading it ("UNBLOCKED the stream
    key no longer exists"), three times: the worker recreates stream and group and runs what
    is sent afterwards."""
    async with scene.runtime() as rt:
        worker = scene.workers.start(concurrency=4)
        await wait_for_group(rt)
        stream = rt.keys.queue("default").stream
        for _ in range(3):
            await asyncio.sleep(0.5)  # the idle worker spends its time in XREADGROUP BLOCK
            await rt.broker.client.delete(stream)
        await asyncio.sleep(1.0)
        assert worker.alive(), worker.output()[-4000:]
        flow = Flow(rt, scene.ledger)
        assert await flow.send(mixed_jobs(200, random.Random())) == []
        await flow.wait_finished(timeout=60)
        audit = await flow.audit()
        assert worker.alive(), worker.output()[-4000:]
    assert audit.lost == []
    assert "consumer_group_recreated" in worker.output()


async def wait_for_group(rt: Runtime) -> None:
    """Wait until a worker has created the default queue's consumer group."""

    async def created() -> bool:
        return bool(await rt.broker.client.exists(rt.keys.queue("default").stream))

    await wait_until(created, timeout=30)


async def test_a_refusal_waiting_cannot_cure_stops_the_worker_in_one_line(scene: Scene) -> None:
    """A queue's delay set holding a string (WRONGTYPE for every promote): the worker stops
    with exit 1 and one line naming the loop and the reply, not a traceback."""
    async with scene.runtime() as rt:
        await rt.broker.client.set(rt.keys.queue("default").delayed, "not a sorted set")
        worker = scene.workers.start(concurrency=2)
        code = await worker.exited(timeout=60)
    output = worker.output()
    assert code == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Redis refused" in lines[0] and "WRONGTYPE" in lines[0], lines
