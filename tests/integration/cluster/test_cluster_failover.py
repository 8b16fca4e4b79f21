"""A cluster master SIGKILLed mid-flow (its replica takes over): the workers carry on without
a restart, and with one replica required every send that returned runs."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.clusters import Cluster, start_cluster, wait_linked
from tests.integration.cluster.flows import flow_runtime_on, flow_workers, run_flow
from waasp.runtime import Runtime
from waasp.runtime.broker.client import connect_blocking

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def replicated() -> Iterator[Cluster]:
    """Three masters with a replica each (a test of its own: a master will be killed)."""
    with start_cluster(Path(tempfile.mkdtemp(prefix="waasp-ha-")), replicas=True) as started:
        yield started


@pytest.fixture
async def flow_runtime(replicated: Cluster) -> AsyncIterator[Runtime]:
    """``flow_app``'s runtime on the replicated cluster."""
    async with flow_runtime_on(replicated.url) as rt:
        yield rt


@pytest.mark.parametrize("min_replicas", [0, 1])
async def test_killing_a_master_mid_flow(
    flow_runtime: Runtime, replicated: Cluster, tmp_path: Path, min_replicas: int
) -> None:
    """SIGKILL the master of the flow's queue (0.3 s after cutting its replica's link) during
    a 5,000-task flow: its replica takes over; the workers carry on; with
    broker_min_replicas=1 every send that returned ran."""
    flow_runtime.conf.update(broker_min_replicas=min_replicas)
    await flow_runtime.close()
    client = connect_blocking(replicated.url)
    try:
        owner = client.get_node_from_key(flow_runtime.keys.queue("flow").stream)
    finally:
        client.close()
    [victim] = [n for n in replicated.nodes if n.port == owner.port]
    url = replicated.url
    workers = flow_workers(url, flow_runtime.conf.key_prefix, tmp_path, min_replicas)

    async def fail_over() -> None:
        # Freeze the replica and cut its link, so for half a second the master acknowledges
        # writes no replica has, then dies: what asynchronous replication can lose.
        replica = replicated.replica_of(victim)
        assert replica.process is not None
        replica.process.send_signal(signal.SIGSTOP)
        try:
            with victim.client() as client:
                client.execute_command("CLIENT", "KILL", "TYPE", "replica")
            await asyncio.sleep(0.5)
            victim.kill()
        finally:
            replica.process.send_signal(signal.SIGCONT)
        await asyncio.to_thread(replicated.wait_failed_over, victim)
        # Back as the new master's replica (until then, a master without a replica can
        # acknowledge nothing to broker_min_replicas=1).
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(wait_linked, replicated.nodes, 3)

    label = f"cluster master killed, broker_min_replicas={min_replicas}"
    # Tasks of 5 ms on one executor per worker: a backlog builds up, so what the dead master
    # alone had acknowledged is still waiting (not already run) when it dies.
    ledger = tmp_path / "ledger"
    report = await run_flow(workers, ledger, 5000, fail_over, label, task_seconds=0.005)
    assert victim.port not in {n.port for n in replicated.masters()}
    assert report.refused < report.total
    if min_replicas:
        assert report.lost == 0
