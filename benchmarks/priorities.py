"""Priorities on against the plain path, in one process and one run (issue 15: at most 10 %).

    python -m benchmarks.priorities [--tasks 2000] [--rounds 7] [--redis-url redis://127.0.0.1:6379/0]

Each round measures, for both paths back to back (their order alternating between rounds):
enqueue one by one, enqueue through ``send_many``, and a drain of the pre-queued no-ops by an
in-process burst worker (concurrency 16). "Priorities on" sends each task with the next of the
ten priorities in turn, so every priority's stream of the queue is used. The figure reported
is the median over rounds of each round's ratio (priorities on / plain), which cancels most of
a shared machine's drift between rounds; the rates' medians and ranges are printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
import uuid

from redis.asyncio import Redis

from waasp.runtime import Runtime, Task, Worker
from waasp.runtime.logs import configure_logging

SCENARIOS = ("enqueue", "bulk", "drain")


def build(url: str) -> tuple[Runtime, Task]:
    """A runtime under a fresh prefix, with a no-op task."""
    runtime = Runtime("bench", broker_url=url, key_prefix=f"bench-prio-{uuid.uuid4().hex[:8]}")
    runtime.conf.update(task_ignore_result=True, worker_send_task_events=False)

    @runtime.task(name="bench.noop")
    async def noop() -> None:
        """Do nothing."""

    return runtime, noop


async def one_round(url: str, tasks: int, prio: bool) -> dict[str, float]:
    """Rates (tasks/s) of one path: enqueue one by one, bulk, drain."""
    runtime, noop = build(url)
    turn = itertools.cycle(range(10)) if prio else itertools.repeat(0)
    try:
        await noop.delay()  # connect, register the queue
        start = time.perf_counter()
        for _ in range(tasks):
            if prio:
                await noop.apply_async(priority=next(turn))
            else:
                await noop.delay()
        enqueue = tasks / (time.perf_counter() - start)
        signatures = [noop.s().set(priority=next(turn)) if prio else noop.s() for _ in range(tasks)]
        start = time.perf_counter()
        await runtime.send_many(signatures)
        bulk = tasks / (time.perf_counter() - start)
        start = time.perf_counter()
        await Worker(runtime, ["default"], 16, burst=True).run()
        drain = (2 * tasks + 1) / (time.perf_counter() - start)
        return {"enqueue": enqueue, "bulk": bulk, "drain": drain}
    finally:
        await clean(url, runtime.conf.key_prefix)
        await runtime.close()


async def clean(url: str, prefix: str) -> None:
    """Delete every key of ``prefix`` (broker and results)."""
    for db_url in (url, url.rsplit("/", 1)[0] + "/1"):
        client = Redis.from_url(db_url)
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.unlink(*keys[i : i + 500])
        await client.aclose()


async def run(url: str, tasks: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per path and scenario, the rate of every round."""
    rates: dict[str, dict[str, list[float]]] = {
        p: {s: [] for s in SCENARIOS} for p in ("plain", "prio")
    }
    for i in range(rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        for prio in order:
            for scenario, rate in (await one_round(url, tasks, prio)).items():
                rates["prio" if prio else "plain"][scenario].append(rate)
    return rates


def report(rates: dict[str, dict[str, list[float]]]) -> str:
    """A Markdown table: medians, ranges and the median per-round ratio."""
    lines = [
        "| scenario | plain (tasks/s) | priorities on (tasks/s) | ratio (median of rounds) |",
        "| --- | --- | --- | --- |",
    ]
    for scenario in SCENARIOS:
        plain, prio = rates["plain"][scenario], rates["prio"][scenario]
        ratio = statistics.median(b / a for a, b in zip(plain, prio, strict=True))

        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):,.0f} ({min(values):,.0f} to {max(values):,.0f})"

        lines.append(f"| {scenario} | {cell(plain)} | {cell(prio)} | {ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.priorities")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    configure_logging(level="warning")  # the workers' start and stop lines are not results
    print(report(asyncio.run(run(args.redis_url, args.tasks, args.rounds))))


if __name__ == "__main__":
    main()
