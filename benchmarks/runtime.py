"""Benchmark waasp.runtime against a raw redis-py Streams loop, in one run.

    python -m benchmarks.runtime [--tasks 10000] [--reps 3] [--redis-url redis://127.0.0.1:6379/0]

Prints a Markdown table: each figure with its ratio to the raw loop measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from benchmarks import raw_streams

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Row:
    """One scenario's figures: median, min, max for us and for raw."""

    scenario: str
    unit: str
    ours: list[float]
    raw: list[float] | None
    higher_is_better: bool = True

    def cells(self) -> list[str]:
        """Markdown cells."""

        def fmt(values: list[float]) -> str:
            return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"

        ratio = "n/a"
        if self.raw:
            ratio = f"{statistics.median(self.ours) / statistics.median(self.raw):.2f}x"
        return [self.scenario, self.unit, fmt(self.ours), fmt(self.raw) if self.raw else "—", ratio]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def fresh_prefix() -> str:
    """A key prefix private to one measurement."""
    return f"bench{uuid.uuid4().hex[:8]}"


def make_runtime(url: str, prefix: str):  # type: ignore[no-untyped-def]  # returns the app module's Runtime
    os.environ["WAASP_KEY_PREFIX"] = prefix
    import importlib

    import benchmarks.runtime_app as app

    app = importlib.reload(app)
    app.runtime.conf.update(broker_url=url, key_prefix=prefix)
    return app


async def cleanup(client: Redis, prefix: str) -> None:
    """Delete every key of a measurement."""
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        await client.delete(key)


async def measure(reps: int, run: Callable[[], Awaitable[float]]) -> list[float]:
    """Run a measurement ``reps`` times."""
    return [await run() for _ in range(reps)]


# -- scenarios ------------------------------------------------------------------------------


async def enqueue_ours(url: str, n: int, bulk: bool) -> float:
    prefix = fresh_prefix()
    app = make_runtime(url, prefix)
    await app.noop.delay()  # connect, announce the queue
    start = time.perf_counter()
    if bulk:
        await app.runtime.send_many([app.noop.s() for _ in range(n)])
    else:
        for _ in range(n):
            await app.noop.delay()
    rate = n / (time.perf_counter() - start)
    await cleanup(app.runtime.broker.client, prefix)
    await app.runtime.close()
    return rate


async def enqueue_raw(url: str, n: int, bulk: bool) -> float:
    client = Redis.from_url(url)
    stream = f"{fresh_prefix()}:stream"
    await client.ping()
    seconds = await (raw_streams.enqueue_pipelined if bulk else raw_streams.enqueue_one_by_one)(
        client, stream, n
    )
    await client.delete(stream)
    await client.aclose()
    return n / seconds


async def drain_ours(url: str, n: int) -> float:
    from waasp.runtime import Worker

    prefix = fresh_prefix()
    app = make_runtime(url, prefix)
    await app.runtime.send_many([app.noop.s() for _ in range(n)])
    worker = Worker(app.runtime, ["default"], 16, burst=True)
    start = time.perf_counter()
    await worker.run()
    rate = n / (time.perf_counter() - start)
    assert worker.counts["SUCCESS"] == n, worker.counts
    await cleanup(app.runtime.broker.client, prefix)
    await cleanup(app.runtime.results.client, prefix)
    await app.runtime.close()
    return rate


async def drain_raw(url: str, n: int) -> float:
    client = Redis.from_url(url)
    stream = f"{fresh_prefix()}:stream"
    await raw_streams.enqueue_pipelined(client, stream, n)
    await raw_streams.ensure_group(client, stream)
    start = time.perf_counter()
    await raw_streams.consume(client, stream, n, None)
    rate = n / (time.perf_counter() - start)
    await client.delete(stream)
    async for key in client.scan_iter(match="raw:result:*", count=1000):
        await client.delete(key)
    await client.aclose()
    return rate


def spawn(args: list[str], prefix: str, url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WAASP_KEY_PREFIX": prefix, "WAASP_REDIS_URL": url, "PYTHONPATH": ROOT}
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def collect(client: Redis, key: str, n: int, timeout: float = 30) -> list[float]:
    deadline = time.monotonic() + timeout
    while await client.llen(key) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await client.llen(key)} of {n} latencies arrived")
        await asyncio.sleep(0.05)
    return [float(x) * 1000 for x in await client.lrange(key, 0, -1)]


async def paced(n: int, rate: float, send: Callable[[float], Awaitable[None]]) -> None:
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(time.time())


async def latency_ours(url: str, n: int, countdown: float | None = None) -> list[float]:
    prefix = fresh_prefix()
    app = make_runtime(url, prefix)
    client = app.runtime.broker.client
    worker = spawn(
        [
            "-m",
            "waasp.runtime",
            "worker",
            "-A",
            "benchmarks.runtime_app:runtime",
            "-c",
            "10",
            "--loglevel",
            "warning",
        ],
        prefix,
        url,
    )
    try:
        await app.noop.delay()
        await collect_started(client, prefix)

        async def send(now: float) -> None:
            if countdown is None:
                await app.record_latency.delay(now)
            else:
                await app.record_latency.apply_async((now, now + countdown), countdown=countdown)

        await paced(n, 200, send)
        return await collect(client, f"{prefix}:bench:latency", n)
    finally:
        worker.terminate()
        worker.wait(10)
        await cleanup(client, prefix)
        await app.runtime.close()


async def collect_started(client: Redis, prefix: str) -> None:
    """Wait until a worker has announced itself."""
    for _ in range(200):
        if await client.zcard(f"{prefix}:workers"):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("worker did not start")


async def latency_raw(url: str, n: int) -> list[float]:
    prefix = fresh_prefix()
    stream, key = f"{prefix}:stream", f"{prefix}:bench:latency"
    client = Redis.from_url(url)
    await raw_streams.ensure_group(client, stream)
    consumer = spawn(["-m", "benchmarks.raw_streams", url, stream, key], prefix, url)
    try:
        await asyncio.sleep(1.0)

        async def send(now: float) -> None:
            await client.xadd(stream, {"message": raw_streams.body(sent_at=now)})

        await paced(n, 200, send)
        return await collect(client, key, n)
    finally:
        consumer.terminate()
        consumer.wait(10)
        await cleanup(client, prefix)
        await client.aclose()


# -- the run ----------------------------------------------------------------------------------


async def run(url: str, n: int, reps: int) -> list[Row]:
    rows = [
        Row(
            "enqueue, one by one",
            "tasks/s",
            await measure(reps, lambda: enqueue_ours(url, n, False)),
            await measure(reps, lambda: enqueue_raw(url, n, False)),
        ),
        Row(
            "enqueue, bulk",
            "tasks/s",
            await measure(reps, lambda: enqueue_ours(url, n, True)),
            await measure(reps, lambda: enqueue_raw(url, n, True)),
        ),
        Row(
            "drain, 1 process (results stored, STARTED tracked)",
            "tasks/s",
            await measure(reps, lambda: drain_ours(url, n)),
            await measure(reps, lambda: drain_raw(url, n)),
        ),
    ]
    ours_lat = [await latency_ours(url, 1000) for _ in range(reps)]
    raw_lat = [await latency_raw(url, 1000) for _ in range(reps)]
    for q, label in ((50, "p50"), (99, "p99")):
        rows.append(
            Row(
                f"enqueue-to-start latency at 200/s, {label}",
                "ms",
                [percentile(v, q) for v in ours_lat],
                [percentile(v, q) for v in raw_lat],
                higher_is_better=False,
            )
        )
    rows.append(
        Row(
            "enqueue-to-start latency at 200/s, max",
            "ms",
            [max(v) for v in ours_lat],
            [max(v) for v in raw_lat],
            higher_is_better=False,
        )
    )
    delayed = [await latency_ours(url, 200, countdown=1.0) for _ in range(reps)]
    for q, label in ((50, "p50"), (99, "p99")):
        rows.append(
            Row(
                f"lateness of 1 s-delayed tasks, {label}",
                "ms",
                [percentile(v, q) for v in delayed],
                None,
                higher_is_better=False,
            )
        )
    return rows


def table(rows: list[Row]) -> str:
    """The Markdown table."""
    head = [
        "scenario",
        "unit",
        "waasp.runtime median (min-max)",
        "raw Streams median (min-max)",
        "ratio",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--redis-url", default=os.environ.get("WAASP_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rows = asyncio.run(run(args.redis_url, args.tasks, args.reps))
    print(table(rows))


if __name__ == "__main__":
    main()
