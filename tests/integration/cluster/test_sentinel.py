"""The runtime on a master + replica + 3 sentinels: tasks through a sentinel URL, writes that
wait for a replica, and a SENTINEL FAILOVER mid-flow that workers and producer follow."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from tests.clusters import SENTINEL_MASTER, SentinelSet, start_sentinel
from tests.integration.cluster import flow_app
from tests.integration.cluster.flows import flow_runtime_on, flow_workers, ran, run_flow
from waasp.runtime import NotReplicated, Runtime


@pytest.fixture(scope="module")
def sentinel() -> Iterator[SentinelSet]:
    """A master, its replica and three sentinels, on free loopback ports."""
    with start_sentinel(Path(tempfile.mkdtemp(prefix="waasp-sentinel-"))) as started:
        yield started


@pytest.fixture
async def flow_runtime(sentinel: SentinelSet) -> AsyncIterator[Runtime]:
    """``flow_app``'s runtime on the sentinel URL under a fresh prefix."""
    async with flow_runtime_on(sentinel.url) as rt:
        yield rt


async def test_tasks_run_through_a_sentinel_url(
    flow_runtime: Runtime, sentinel: SentinelSet, tmp_path: Path
) -> None:
    """A worker and a producer on redis+sentinel:// run tasks on the master it names."""
    workers = flow_workers(sentinel.url, flow_runtime.conf.key_prefix, tmp_path, 0)
    ledger = tmp_path / "ledger"
    try:
        workers.start("flow", concurrency=2, env={"WAASP_TEST_LEDGER": str(ledger)})
        for n in range(20):
            await flow_app.mark.apply_async((n,))
        deadline = time.monotonic() + 60
        while ran(ledger) != set(range(20)):
            assert time.monotonic() < deadline, sorted(ran(ledger))
            await asyncio.sleep(0.1)
    finally:
        workers.reap()


async def test_min_replicas_waits_for_the_replica_and_says_when_too_few(
    flow_runtime: Runtime,
) -> None:
    """With broker_min_replicas=1 a send returns once the replica has it; asking for two
    replicas of a master that has one raises NotReplicated."""
    flow_runtime.conf.update(broker_min_replicas=1)
    await flow_runtime.close()
    await flow_app.mark.apply_async((1,))
    stats = await flow_runtime.broker.queue_stats(["flow"])
    assert stats[0].waiting == 1
    flow_runtime.conf.update(broker_min_replicas=2)
    await flow_runtime.close()
    with pytest.raises(NotReplicated, match="1 of the 2 replicas"):
        await flow_app.mark.apply_async((2,))


@pytest.mark.slow
@pytest.mark.parametrize("min_replicas", [0, 1])
async def test_sentinel_failover_mid_flow(
    flow_runtime: Runtime, sentinel: SentinelSet, tmp_path: Path, min_replicas: int
) -> None:
    """SENTINEL FAILOVER during a 2,000-task flow: the workers and the producer follow the
    new master without a restart; with one replica required, every send that returned ran."""
    flow_runtime.conf.update(broker_min_replicas=min_replicas)
    await flow_runtime.close()
    workers = flow_workers(sentinel.url, flow_runtime.conf.key_prefix, tmp_path, min_replicas)
    before = sentinel.master_port()

    async def fail_over() -> None:
        with redis.Redis(port=sentinel.sentinels[0].port) as admin:
            await asyncio.to_thread(admin.execute_command, "SENTINEL", "FAILOVER", SENTINEL_MASTER)
        deadline = time.monotonic() + 60
        while sentinel.master_port() == before:
            assert time.monotonic() < deadline, "the sentinels did not fail over"
            await asyncio.sleep(0.2)

    label = f"sentinel failover, broker_min_replicas={min_replicas}"
    ledger = tmp_path / "ledger"
    report = await run_flow(workers, ledger, 2000, fail_over, label, task_seconds=0.005)
    assert sentinel.master_port() != before
    if min_replicas:
        assert report.lost == 0
