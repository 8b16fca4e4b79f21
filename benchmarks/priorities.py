"""Priorities on against the plain path, in one process and one run (issue 15: at most 10 %).

    python -m benchmarks.priorities [--tasks 2000] [--rounds 7] [--redis-url redis://127.0.0.1:6379/0]

Each round measures, for both paths back to back (their order alternating between rounds):
enqueue one by one, enqueue through ``send_many``, and a drain of the pre-queued no-ops by an
in-process burst worker (concurrency 16). "Priorities on" sends each task with the next of the
ten priorities in turn, so every priority's stream of the queue is used. The figure reported
is the median over rounds of each round's ratio (priorities on / plain), which cancels most of
a shared machine's drift between rounds, for the rate and for the CPU time this process spent
per task (producer and in-process worker; less disturbed by other processes than wall time).
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


class Clock:
    """Wall and CPU time (this process: the producer, and the in-process worker) of a step."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


async def one_round(url: str, tasks: int, prio: bool) -> dict[str, tuple[float, float]]:
    """Per scenario of one path: (tasks/s, CPU µs per task)."""
    runtime, noop = build(url)
    turn = itertools.cycle(range(10)) if prio else itertools.repeat(0)
    out: dict[str, tuple[float, float]] = {}

    def note(scenario: str, n: int, clock: Clock) -> None:
        out[scenario] = (n / clock.wall, clock.cpu / n * 1e6)

    try:
        await noop.delay()  # connect, register the queue
        with Clock() as clock:
            for _ in range(tasks):
                if prio:
                    await noop.apply_async(priority=next(turn))
                else:
                    await noop.delay()
        note("enqueue", tasks, clock)
        signatures = [noop.s().set(priority=next(turn)) if prio else noop.s() for _ in range(tasks)]
        with Clock() as clock:
            await runtime.send_many(signatures)
        note("bulk", tasks, clock)
        with Clock() as clock:
            await Worker(runtime, ["default"], 16, burst=True).run()
        note("drain", 2 * tasks + 1, clock)
        return out
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


Rounds = dict[str, dict[str, list[tuple[float, float]]]]


async def run(url: str, tasks: int, rounds: int) -> Rounds:
    """Per path and scenario, (tasks/s, CPU µs per task) of every round."""
    found: Rounds = {p: {s: [] for s in SCENARIOS} for p in ("plain", "prio")}
    for i in range(rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        for prio in order:
            for scenario, figures in (await one_round(url, tasks, prio)).items():
                found["prio" if prio else "plain"][scenario].append(figures)
    return found


def report(found: Rounds) -> str:
    """A Markdown table: medians and ranges of the rates, and the medians of the rounds'
    ratios of rate (priorities on / plain: 1 or more is no slower) and of CPU per task."""
    lines = [
        "| scenario | plain (tasks/s) | priorities on (tasks/s) | rate ratio | CPU/task ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scenario in SCENARIOS:
        plain, prio = found["plain"][scenario], found["prio"][scenario]
        pairs = list(zip(plain, prio, strict=True))
        rate = statistics.median(b[0] / a[0] for a, b in pairs)
        cpu = statistics.median(b[1] / a[1] for a, b in pairs)

        def cell(values: list[tuple[float, float]]) -> str:
            rates = [v[0] for v in values]
            return f"{statistics.median(rates):,.0f} ({min(rates):,.0f} to {max(rates):,.0f})"

        lines.append(f"| {scenario} | {cell(plain)} | {cell(prio)} | {rate:.2f} | {cpu:.2f} |")
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
