"""What only a cluster shows: queues on three masters, the monitor's figures gathered from
every node, and Redis URLs refused in one line."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.clusters import Cluster, start_cluster
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import ROOT, WorkerFactory, wait_until, worker_env
from waasp.runtime import Runtime
from waasp.runtime.broker import ANY_REDIS_ERROR, Fault, classify
from waasp.runtime.broker.client import connect, connect_blocking, ready
from waasp.runtime.broker.event_shards import EVENT_SHARDS
from waasp.runtime.broker.events import EventBatch, EventKind, TaskEvent
from waasp.runtime.broker.replication import write_replicated
from waasp.runtime.monitor import contents, inspection, queries


def queues_on_three_masters(runtime: Runtime) -> list[str]:
    """Three queue names whose keys three different masters hold."""
    client = connect_blocking(runtime.conf.broker_url)
    try:
        chosen: dict[str, str] = {}
        for i in count():
            name = f"q{i}"
            node = client.get_node_from_key(runtime.keys.queue(name).stream)
            chosen.setdefault(node.name, name)
            if len(chosen) == 3:
                return sorted(chosen.values())
    finally:
        client.close()
    raise AssertionError("unreachable")


async def test_worker_on_three_masters_drains_every_queue(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A worker on -Q a,b,c whose queues three masters hold runs the tasks of each."""
    queues = queues_on_three_masters(runtime)
    sent = [await apps.add.apply_async((i, 1), queue=queue) for queue in queues for i in range(20)]
    workers.start(",".join(queues), concurrency=4)
    values = await asyncio.gather(*(r.get(timeout=60) for r in sent))
    assert sorted(values) == sorted(i + 1 for _ in queues for i in range(20))

    async def settled() -> bool:
        # a result is stored before its entry is acknowledged (acks-late), and the worker
        # batches its acknowledgements, so the last entries may still be pending for a moment
        stats = await inspection.queue_stats(runtime, queues)
        return all(s.waiting == 0 and s.in_flight == 0 for s in stats)

    await wait_until(settled, timeout=30)


async def test_monitor_figures_on_a_cluster(runtime: Runtime, workers: WorkerFactory) -> None:
    """The dashboard's runtime figures (queues, workers, events, counters, throughput, dead
    letters, a task's detail) read from a cluster."""
    ok = await apps.add.delay(1, 2)
    bad = await apps.explode.delay("boom")
    worker = workers.start("default", concurrency=2)
    assert await ok.get(timeout=60) == 3
    with pytest.raises(Exception, match="boom"):
        await bad.get(timeout=60)
    [default] = await inspection.queue_stats(runtime, ["default"])
    assert default.waiting == 0
    assert [w["name"] for w in await inspection.workers(runtime)] == [worker.name]

    async def counted() -> bool:
        counts = (await queries.task_counters(runtime)).counts
        return counts.get(apps.add.name, {}).get("succeeded") == 1 and apps.explode.name in counts

    await wait_until(counted, timeout=30)
    events = str(await queries.recent_events(runtime))
    assert ok.id in events and bad.id in events
    assert bad.id in str(await queries.recent_failures(runtime))
    buckets = (await queries.throughput(runtime, 1))["buckets"]
    assert sum(b["succeeded"] for b in buckets) == 1
    assert (await inspection.dead_letter_page(runtime))["total"] == 1  # the failure
    assert (await contents.task_detail(runtime, ok.id))["state"] == "SUCCESS"


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("WAASP_REDIS_URL", "redis+cluster://"),
        ("WAASP_REDIS_URL", "redis+sentinel://127.0.0.1:1"),
        ("WAASP_RESULT_URL", "redis+cluster://h:port"),
    ],
)
def test_bad_urls_are_one_line_errors(
    cluster: Cluster, variable: str, url: str, tmp_path: Path
) -> None:
    """A bad Redis URL stops the runtime CLI and the waasp CLI (env, up) with one line
    naming it."""
    env = worker_env(cluster.url, "bad-url", 2.0)
    env[variable] = url
    env["WAASP_DATA_DIR"] = str(tmp_path)
    for command in (
        [
            sys.executable,
            "-m",
            "waasp.runtime",
            "inspect",
            "queues",
            "-A",
            apps.__name__ + ":runtime",
        ],
        [sys.executable, "-m", "waasp", "env"],
        [sys.executable, "-m", "waasp", "up"],
    ):
        done = subprocess.run(
            command, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert variable in lines[0]
        assert "Traceback" not in done.stderr


async def test_redis_factory_makes_the_clients(cluster: Cluster, key_prefix: str) -> None:
    """Runtime(redis_factory=) builds the broker, result and pub/sub clients from their URLs."""
    made: list[tuple[str, float | None]] = []

    def factory(url: str, socket_timeout: float | None) -> Any:
        made.append((url, socket_timeout))
        return connect(url, socket_timeout)

    rt = Runtime("waasp", broker_url=cluster.url, key_prefix=key_prefix, redis_factory=factory)
    try:
        await rt.send_task("anything", queue="factory")
        assert (await rt.broker.queue_stats(["factory"]))[0].waiting == 1
        assert await rt.AsyncResult("none").state() == "PENDING"
    finally:
        await rt.close()
    assert made == [(cluster.url, None)] * 3  # broker, results, results' pub/sub


async def test_events_are_sharded_over_the_masters(runtime: Runtime) -> None:
    """Workers write their events under several hash tags, so several masters take them;
    readers sum and merge every shard."""
    events = runtime.broker.events
    assert events.shards == EVENT_SHARDS
    workers = [f"worker-{i}" for i in range(16)]
    for i, worker in enumerate(workers):
        done = TaskEvent(EventKind.SUCCEEDED, "t.x", f"id-{i}", "default", seconds=0.01)
        await events.record(EventBatch(started=["t.x"], finished=[done]), runtime.conf, worker)
    client = connect_blocking(runtime.conf.broker_url)
    try:
        owners = {
            client.get_node_from_key(runtime.keys.events_shard(n).events).name
            for n in range(EVENT_SHARDS)
            if client.exists(runtime.keys.events_shard(n).events)
        }
    finally:
        client.close()
    assert len(owners) > 1
    counters = await events.counters()
    assert counters.counts["t.x"] == {"started": 16, "succeeded": 16}
    assert counters.run_times["t.x"].buckets[-1] == ("+Inf", 16)
    recent = await events.recent(100)
    assert len([e for e in recent if e["event"] == "succeeded"]) == 16
    buckets = (await events.throughput(1))["buckets"]
    assert sum(b["succeeded"] for b in buckets) == 16


async def test_server_checks_ask_every_master(cluster: Cluster, runtime: Runtime) -> None:
    """The version check and the eviction-policy warning read every master, not one."""
    await runtime.broker.check_server()
    assert await runtime.broker.eviction_policy() == "noeviction"
    last = cluster.nodes[2]
    with last.client() as client:
        client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        assert await runtime.broker.eviction_policy() == "allkeys-lru"
    finally:
        with last.client() as client:
            client.config_set("maxmemory-policy", "noeviction")


async def test_a_cluster_of_the_embedded_valkey(tmp_path: Path, key_prefix: str) -> None:
    """Where redis-server and redis-cli are missing, the tests' cluster is the embedded Valkey
    joined without a CLI; the runtime works on it as on Redis."""
    with start_cluster(tmp_path, embedded=True) as valkey:
        rt = Runtime("waasp", broker_url=valkey.url, key_prefix=key_prefix)
        try:
            await rt.send_task("anything", queue="valkey")
            await rt.broker.ensure_group("valkey")
            [delivery] = await rt.broker.read(["valkey", "other"], "c", 10, 100)
            assert delivery.queue == "valkey"
            assert "valkey_version" in str(await rt.broker.client.info("server"))
        finally:
            await rt.close()


async def test_sigterm_stops_a_worker_reading_three_masters(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A worker blocked on queues of three masters drains and exits 0 on one SIGTERM, and
    hands back nothing it took: every task sent after it stopped is still waiting."""
    queues = queues_on_three_masters(runtime)
    worker = workers.start(",".join(queues), concurrency=2)

    async def reading() -> bool:
        return any(w["name"] == worker.name for w in await inspection.workers(runtime))

    await wait_until(reading, timeout=30)
    await asyncio.sleep(1.5)  # its blocking reads are in flight (READ_BLOCK_MS is 1 s)
    worker.signal(signal.SIGTERM)
    assert await worker.exited(timeout=30) == 0
    for queue in queues:
        await apps.add.apply_async((1, 1), queue=queue)
    stats = await inspection.queue_stats(runtime, queues)
    assert [(s.waiting, s.in_flight) for s in stats] == [(1, 0)] * 3


def _move_slot(cluster: Cluster, slot: int, to_port: int) -> None:
    """Give the empty hash slot ``slot`` to the master on ``to_port``, telling every master."""
    masters = cluster.masters()
    [target] = [n for n in masters if n.port == to_port]
    with target.client() as client:
        target_id = client.execute_command("CLUSTER", "MYID").decode()
    for node in sorted(masters, key=lambda n: n.port != to_port):  # the new owner first
        with node.client() as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


async def test_a_replicated_write_after_its_slot_moved_is_retried(
    cluster: Cluster, key_prefix: str
) -> None:
    """A write that waits for replicas is sent by the runtime itself to the master its slot
    map names (replication.py). Sent after the slot moved (a failover), its MOVED reply is an
    outage that the calling loop waits out, not a bug that stops the worker, and the retry
    reaches the new master."""
    client = connect(cluster.url)
    blocking = connect_blocking(cluster.url)
    try:
        await ready(client)
        key = f"{key_prefix}:moved"
        slot = blocking.keyslot(key)
        owner = blocking.get_node_from_key(key).port
        [other] = [n.port for n in cluster.masters() if n.port != owner][:1]
        write = [(key, ("SET", key, "1"))]
        _move_slot(cluster, slot, other)
        try:
            with pytest.raises(ANY_REDIS_ERROR) as raised:
                await write_replicated(client, write, 0)
            assert classify(raised.value) is Fault.OUTAGE
            assert await write_replicated(client, write, 0) == [True]
            assert client.get_node_from_key(key).port == other
        finally:
            await client.delete(key)
            _move_slot(cluster, slot, owner)
    finally:
        blocking.close()
        await client.aclose()
