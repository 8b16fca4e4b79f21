"""Soak: a long stream of tasks (with retries and delays) through two worker processes,
sampling the workers' RSS and Redis's memory as it goes; both must stay flat.

    python -m benchmarks.soak --tasks 1000000          # the full soak (hours on a laptop)
    python -m benchmarks.soak --tasks 200000 --json benchmarks/results/soak.json

It starts a redis-server of its own (append-only, everysec) in a temporary directory, two
``python -m waasp.runtime worker`` processes (``-c 16``), and a producer that keeps the
stream under ``--backlog`` entries. 5% of the tasks ask for one retry (0.2 s later) and 5% are
enqueued with a 0.1-2 s countdown. Results expire after ``--result-expires`` seconds (30), so
Redis memory levels off at about rate x 30 s of results; unprocessed entries never expire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from redis.asyncio import Redis

from waasp.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]
APP = "benchmarks.runtime_app:runtime"
PREFIX = "soak"


@dataclass
class Sample:
    """One look at the system."""

    elapsed_s: float
    done: int
    backlog: int
    delayed: int
    redis_used_mb: float
    worker_rss_mb: list[float]


def rss_mb(pid: int) -> float:
    """Resident set size of a process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def start_workers(url: str, count: int, result_expires: float) -> list[subprocess.Popen[bytes]]:
    """Worker processes of the benchmark app."""
    env = {
        **os.environ,
        "WAASP_REDIS_URL": url,
        "WAASP_KEY_PREFIX": PREFIX,
        "BENCH_RESULT_EXPIRES": str(result_expires),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "waasp.runtime", "worker", "-A", APP, "-c", "16"]
    return [
        subprocess.Popen(
            [*command, "-n", f"soak-{i}", "--loglevel", "warning"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


async def produce(total: int, backlog: int, rng: random.Random) -> None:
    """Enqueue ``total`` tasks in batches, never letting the stream grow past ``backlog``."""
    from benchmarks import runtime_app

    rt = runtime_app.runtime
    stream = rt.keys.queue("default").stream
    sent = 0
    while sent < total:
        while await rt.broker.client.xlen(stream) > backlog:
            await asyncio.sleep(0.05)
        batch = min(1000, total - sent)
        immediate = []
        for index in range(sent, sent + batch):
            roll = rng.random()
            if roll < 0.05:
                await runtime_app.soak.apply_async((index,), countdown=rng.uniform(0.1, 2.0))
            else:
                immediate.append(runtime_app.soak.s(index, roll < 0.10))
        await rt.send_many(immediate)
        sent += batch


async def sample(client: Redis, workers: list[subprocess.Popen[bytes]], t0: float) -> Sample:
    """Read the counters and memory figures."""
    memory = await client.info("memory")
    return Sample(
        elapsed_s=round(time.monotonic() - t0, 1),
        done=int(await client.get(f"{PREFIX}:bench:soak:done") or 0),
        backlog=int(await client.xlen(f"{PREFIX}:{{default}}:stream")),
        delayed=int(await client.zcard(f"{PREFIX}:{{default}}:delayed")),
        redis_used_mb=round(int(memory["used_memory"]) / 2**20, 1),
        worker_rss_mb=[rss_mb(w.pid) for w in workers],
    )


async def soak(args: argparse.Namespace) -> list[Sample]:
    """Run the soak; return the samples."""
    from benchmarks import runtime_app

    directory = Path(tempfile.mkdtemp(prefix="waasp-soak-"))
    system = shutil.which("redis-server")
    server = EmbeddedRedis(directory, binary=Path(system) if system else None)
    server.start()
    runtime_app.runtime.conf.update(broker_url=server.url, key_prefix=PREFIX)
    workers = start_workers(server.url, 2, args.result_expires)
    client = Redis.from_url(server.url)
    samples: list[Sample] = []
    try:
        t0 = time.monotonic()
        producer = asyncio.create_task(produce(args.tasks, args.backlog, random.Random(1)))
        while True:
            await asyncio.sleep(args.every)
            samples.append(await sample(client, workers, t0))
            print(json.dumps(asdict(samples[-1])), flush=True)
            if samples[-1].done >= args.tasks:
                break
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a worker died")
        await producer
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        await client.aclose()
        await runtime_app.runtime.close()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return samples


def summary(samples: list[Sample], tasks: int) -> dict[str, object]:
    """Start-of-plateau against end figures: flat means the end is within noise of it."""
    plateau = samples[max(len(samples) // 4, 1) - 1]  # after warm-up and the first expiries
    last = samples[-1]
    return {
        "tasks": tasks,
        "seconds": last.elapsed_s,
        "rate_per_s": round(last.done / last.elapsed_s),
        "worker_rss_mb_at_25pct": plateau.worker_rss_mb,
        "worker_rss_mb_at_end": last.worker_rss_mb,
        "worker_rss_mb_max": [max(s.worker_rss_mb[i] for s in samples) for i in range(2)],
        "redis_used_mb_at_25pct": plateau.redis_used_mb,
        "redis_used_mb_at_end": last.redis_used_mb,
        "redis_used_mb_max": max(s.redis_used_mb for s in samples),
    }


def main() -> None:
    """Parse arguments, soak, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--result-expires", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=None, help="write samples and summary")
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    samples = asyncio.run(soak(args))
    result = {"summary": summary(samples, args.tasks), "samples": [asdict(s) for s in samples]}
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
