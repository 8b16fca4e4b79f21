"""The runtime on one Redis master against a 3-master Redis Cluster: enqueue and drain rates,
and the Redis CPU each task costs on each node (``INFO`` ``used_cpu_sys`` + ``used_cpu_user``
deltas), from which docs/operations.md builds its capacity model.

    python -m benchmarks.cluster --tasks 20000

Both set-ups are started here, on free loopback ports (``tests/clusters.py``). On one machine
the masters share its cores, so the rates here cannot show the scaling itself: the per-task
costs are what carry over (see the capacity model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from tests.clusters import Node, start_cluster, start_single
from waasp.runtime.broker.client import connect_blocking

ROOT = Path(__file__).resolve().parents[1]
APP = "benchmarks.runtime_app:runtime"


def cpu_seconds(ports: Sequence[int]) -> dict[int, float]:
    """Each server's CPU time so far (system + user)."""
    out: dict[int, float] = {}
    for port in ports:
        with redis.Redis(port=port) as client:
            info = client.info("cpu")
        out[port] = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return out


def queues_per_master(url: str, prefix: str, masters: int) -> list[str]:
    """One queue name per master (names whose keys each master holds)."""
    if masters == 1:
        return ["bench"]
    client = connect_blocking(url)
    try:
        chosen: dict[str, str] = {}
        i = 0
        while len(chosen) < masters:
            name = f"bench{i}"
            node = client.get_node_from_key(f"{prefix}:{{{name}}}:stream")
            chosen.setdefault(node.name, name)
            i += 1
        return sorted(chosen.values())
    finally:
        client.close()


async def enqueue(url: str, prefix: str, queues: list[str], tasks: int, bulk: bool) -> float:
    """Send ``tasks`` no-ops spread over ``queues``; return tasks/s."""
    os.environ.update(WAASP_REDIS_URL=url, WAASP_KEY_PREFIX=prefix)
    from benchmarks import runtime_app

    rt = runtime_app.runtime
    rt.conf.update(broker_url=url, key_prefix=prefix, task_ignore_result=True)
    await rt.close()
    noop = runtime_app.noop
    began = time.perf_counter()
    if bulk:
        await rt.send_many(noop.s().set(queue=queues[i % len(queues)]) for i in range(tasks))
    else:
        for i in range(tasks):
            await noop.apply_async(queue=queues[i % len(queues)])
    elapsed = time.perf_counter() - began
    await rt.close()
    return tasks / elapsed


def drain(url: str, prefix: str, reads: list[list[str]], tasks: int) -> tuple[float, float]:
    """Run one burst worker per entry of ``reads`` (the queues it reads) until all are
    empty; return tasks/s and the workers' CPU µs per task."""
    env = {**os.environ, "WAASP_REDIS_URL": url, "WAASP_KEY_PREFIX": prefix}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "waasp.runtime", "worker", "-A", APP]
    cpu_before = _children_cpu()
    began = time.perf_counter()
    procs = [
        subprocess.Popen([*command, "-Q", ",".join(q), "--burst", "-c", "32"], env=env, cwd=ROOT)
        for q in reads
    ]
    for proc in procs:
        proc.wait(timeout=600)
    rate = tasks / (time.perf_counter() - began)
    return rate, (_children_cpu() - cpu_before) / tasks * 1e6


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    label: str, url: str, nodes: list[Node], masters: int, tasks: int, split: bool = False
) -> dict[str, Any]:
    """Enqueue (one by one, then in bulk) and drain ``tasks`` (two workers on every queue,
    or with ``split`` one worker per queue); Redis CPU per task per node."""
    prefix = f"benchc{int(time.time())}"
    queues = queues_per_master(url, prefix, masters)
    reads = [[q] for q in queues] if split else [queues, queues]
    ports = [n.port for n in nodes]
    row: dict[str, Any] = {"setup": label, "masters": masters, "tasks": tasks}
    before = cpu_seconds(ports)
    row["enqueue_per_s"] = asyncio.run(enqueue(url, prefix, queues, tasks, bulk=False))
    row["drain_per_s"], row["worker_cpu_us_per_task"] = drain(url, prefix, reads, tasks)
    after = cpu_seconds(ports)
    row["bulk_enqueue_per_s"] = asyncio.run(enqueue(url, prefix, queues, tasks, bulk=True))
    drain(url, prefix, reads, tasks)
    per_node = {str(p): (after[p] - before[p]) / tasks * 1e6 for p in ports}
    row["redis_cpu_us_per_task_by_node"] = per_node
    row["redis_cpu_us_per_task"] = sum(per_node.values())
    return row


def main(argv: Sequence[str] | None = None) -> None:
    """Measure both set-ups and print (and save) the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="waasp-bench-cluster-") as tmp:
        single = start_single(Path(tmp) / "single")
        try:
            url = f"redis://127.0.0.1:{single.port}/0"
            rows.append(measure("one server", url, [single], 1, args.tasks))
        finally:
            single.kill()
        cluster = start_cluster(Path(tmp) / "cluster")
        try:
            url = cluster.url
            rows.append(measure("3-master cluster", url, cluster.nodes, 3, args.tasks))
            rows.append(
                measure("3 masters, a worker per queue", url, cluster.nodes, 3, args.tasks, True)
            )
        finally:
            cluster.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(rows, indent=2))
    print(
        "| set-up | enqueue/s | bulk enqueue/s | drain/s | worker CPU µs/task "
        "| Redis CPU µs/task (per node) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        nodes = ", ".join(f"{v:.0f}" for v in row["redis_cpu_us_per_task_by_node"].values())
        print(
            f"| {row['setup']} | {row['enqueue_per_s']:,.0f} | {row['bulk_enqueue_per_s']:,.0f} "
            f"| {row['drain_per_s']:,.0f} | {row['worker_cpu_us_per_task']:.0f} "
            f"| {row['redis_cpu_us_per_task']:.0f} ({nodes}) |"
        )


if __name__ == "__main__":
    main()
