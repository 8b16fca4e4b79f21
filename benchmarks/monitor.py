"""Time the dashboard's API calls with many tasks in the system (issue 7: each under 50 ms).

    python -m benchmarks.monitor [--tasks 100000] [--reps 30] [--redis-url redis://127.0.0.1:6379/0]

Fills a fresh key prefix with ``--tasks`` tasks spread over two queues — waiting, in flight
(read by a consumer, never acknowledged), delayed, dead-lettered, finished (result records
and events) — plus two worker heartbeats, then times each call the dashboard makes through
a real HTTP server, and counts the Redis commands each one sends. Prints a Markdown table.
The counts must not depend on ``--tasks``; tests/integration/app/test_monitor_cost.py
checks that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio.client import Pipeline, Redis

from waasp.api import create_app
from waasp.api.server import run_server
from waasp.runtime import Runtime
from waasp.runtime.broker import RawDelivery, SettleOp
from waasp.runtime.message import (
    DeadLetterRecord,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    encode_dead_letter,
    encode_message,
)
from waasp.runtime.states import SUCCESS
from waasp.runtime.worker.events import EventRecorder
from waasp.runtime.worker.heartbeat import Heartbeat
from waasp.runtime.worker.outcomes import Outcome
from waasp.settings import Settings

TOKEN = "bench-token-" + "x" * 20
QUEUES = ("default", "high")
BATCH = 5000
TASK = "benchmarks.monitor.noop"
BENCH_ERROR = RemoteError("BenchError", "a dead letter the benchmark wrote")

# The calls the dashboard makes on every refresh, plus the other monitoring routes.
PATHS = [
    "/api/v1/queues",
    "/api/v1/workers",
    "/api/v1/dlq?limit=20&offset=0",
    "/api/v1/failures?limit=10",
    "/api/v1/schedule",
    "/api/v1/stats?minutes=10",
    "/api/v1/events?limit=100",
    "/api/v1/tasks/{task_id}",
    "/metrics",
]


class CommandCounter:
    """Counts the Redis commands this process sends (pipelined ones one by one)."""

    def __init__(self) -> None:
        self.commands = 0
        self.round_trips = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[CommandCounter]:
        """Count while inside the block."""
        single: Callable[..., Awaitable[Any]] = Redis.execute_command
        batch: Callable[..., Awaitable[Any]] = Pipeline.execute

        async def execute_command(client: Redis, *args: Any, **options: Any) -> Any:
            self.commands += 1
            self.round_trips += 1
            return await single(client, *args, **options)

        async def execute(pipe: Pipeline, *args: Any, **options: Any) -> Any:
            self.commands += len(pipe.command_stack)
            self.round_trips += 1
            return await batch(pipe, *args, **options)

        Redis.execute_command = execute_command
        Pipeline.execute = execute
        try:
            yield self
        finally:
            Redis.execute_command = single
            Pipeline.execute = batch


def _message(queue: str, index: int) -> bytes:
    return encode_message(
        TaskMessage(id=f"bench-{index}", task=TASK, args=(index,), queue=queue, enqueued_at=0.0)
    )


async def populate(runtime: Runtime, tasks: int, start: int = 0) -> str:
    """Put ``tasks`` tasks in the system (ids from ``start``); return the id of a finished one.

    Shares: 60% waiting, 10% in flight, 10% delayed, 10% dead, 10% finished.
    """
    broker = runtime.broker
    await broker.register_queues(QUEUES)
    for queue in QUEUES:
        await broker.ensure_group(queue)
    share = max(tasks // 10, 1)
    kinds = ["waiting"] * 6 + ["in_flight", "delayed", "dead", "finished"]
    finished: list[TaskMeta] = []
    for first in range(start, start + tasks, BATCH):
        async with broker.client.pipeline(transaction=False) as pipe:
            for index in range(first, min(first + BATCH, start + tasks)):
                queue = QUEUES[index % len(QUEUES)]
                q = runtime.keys.queue(queue)
                kind = kinds[(index // 2) % len(kinds)]
                body = _message(queue, index)
                if kind in ("waiting", "in_flight"):
                    pipe.xadd(q.stream, {b"message": body})
                elif kind == "delayed":
                    pipe.zadd(q.delayed, {body: time.time() * 1000 + 3_600_000})
                elif kind == "dead":
                    letter = DeadLetterRecord("failed", body, BENCH_ERROR, 3, 1, "bench")
                    message, details = encode_dead_letter(letter)
                    pipe.xadd(q.dead, {b"message": message, b"details": details})
                else:
                    finished.append(
                        TaskMeta(id=f"bench-{index}", state=SUCCESS, name=TASK, queue=queue)
                    )
            await pipe.execute()
    # In flight: read by a consumer that never acknowledges.
    for queue in QUEUES:
        await broker.read([queue], "bench-consumer", share // len(QUEUES), None)
    for first in range(0, len(finished), BATCH):
        await runtime.results.store_many(
            [ResultRecord(meta) for meta in finished[first : first + BATCH]]
        )
    await _record_events(runtime, finished)
    return finished[0].id if finished else "bench-0"


async def _record_events(runtime: Runtime, finished: list[TaskMeta]) -> None:
    recorder = EventRecorder(runtime.broker, runtime.conf, "bench", {TASK})
    for first in range(0, len(finished), BATCH):
        for meta in finished[first : first + BATCH]:
            delivery = RawDelivery(meta.queue or "default", "0-1", b"")
            outcome = Outcome(SUCCESS, SettleOp.ack("0-1"), ResultRecord(meta))
            recorder.finished(delivery, outcome, 0.01)
        batch = recorder.take(force=True)
        if batch is not None:
            await recorder.write(batch)


async def heartbeats(runtime: Runtime, count: int = 2) -> None:
    """Write ``count`` worker heartbeats."""
    for i in range(count):
        beat = Heartbeat(
            runtime.broker,
            f"bench-worker-{i}",
            60.0,
            lambda: {"queues": list(QUEUES), "concurrency": 8, "held": 0, "done": 0, "failed": 0},
            lambda: 0.0,
            stall_after=60.0,
        )
        await beat.beat()


async def delete_prefix(runtime: Runtime) -> None:
    """Delete every key of the runtime's prefix."""
    prefix = runtime.conf.key_prefix
    for client in (runtime.broker.client, runtime.results.client):
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)


@contextlib.asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """Serve the API for ``runtime`` on a free local port; yield its base URL."""
    # PostgreSQL is never touched by these routes (the pool connects on demand).
    settings = Settings(database_url="postgresql://127.0.0.1:5432/test", api_token=TOKEN)
    app: web.Application = create_app(settings, runtime=runtime)
    stop = asyncio.Event()
    url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(run_server(app, "127.0.0.1", 0, stop, url.set_result))
    try:
        yield await url
    finally:
        stop.set()
        await server


async def time_calls(base: str, task_id: str, reps: int) -> dict[str, list[float]]:
    """Milliseconds of each call, ``reps`` times (after one warm-up call)."""
    timings: dict[str, list[float]] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        for path in PATHS:
            target = path.format(task_id=task_id)
            async with session.get(target) as response:
                assert response.status == 200, (target, response.status, await response.text())
            samples = []
            for _ in range(reps):
                started = time.perf_counter()
                async with session.get(target) as response:
                    await response.read()
                samples.append((time.perf_counter() - started) * 1000)
            timings[path] = samples
    return timings


async def count_calls(base: str, task_id: str) -> dict[str, tuple[int, int]]:
    """(commands, round trips) each call sends to Redis."""
    counts: dict[str, tuple[int, int]] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(base, headers=headers) as session:
        for path in PATHS:
            counter = CommandCounter()
            with counter.installed():
                async with session.get(path.format(task_id=task_id)) as response:
                    await response.read()
            counts[path] = (counter.commands, counter.round_trips)
    return counts


async def run(url: str, tasks: int, reps: int) -> str:
    """Fill, measure, clean up; return the table."""
    runtime = Runtime("waasp", broker_url=url, key_prefix=f"bench{uuid.uuid4().hex[:8]}")
    try:
        started = time.perf_counter()
        task_id = await populate(runtime, tasks)
        await heartbeats(runtime)
        filled = time.perf_counter() - started
        async with serving(runtime) as base:
            counts = await count_calls(base, task_id)
            timings = await time_calls(base, task_id, reps)
    finally:
        await delete_prefix(runtime)
        await runtime.close()
    lines = [
        f"{tasks:,} tasks in the system (filled in {filled:.1f} s), {reps} calls each, "
        f"over HTTP on 127.0.0.1",
        "",
        "| call | median ms | p95 ms | max ms | Redis commands | round trips |",
        "|---|---|---|---|---|---|",
    ]
    for path in PATHS:
        values = sorted(timings[path])
        p95 = values[min(len(values) - 1, round(0.95 * len(values)))]
        commands, trips = counts[path]
        lines.append(
            f"| `{path}` | {statistics.median(values):.2f} | {p95:.2f} | {values[-1]:.2f} "
            f"| {commands} | {trips} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument(
        "--redis-url", default=os.environ.get("WAASP_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(asyncio.run(run(args.redis_url, args.tasks, args.reps)))


if __name__ == "__main__":
    main()
