"""What one Redis round trip costs when it follows idleness: PING back to back, and after the
client slept 1 ms and 5 ms (tasks sent at 200/s reach an idle worker every 5 ms).

    python -m benchmarks.wakeups [--redis-url redis://127.0.0.1:6379/0] [--count 500]

On a virtual machine both the client and the server sleep between tasks, and each wake-up
costs. A worker that needs two round trips between a task's arrival and its start (the
blocking read that brings it, then the start mark) pays that cost twice; a raw loop pays it
once. This is the floor under the enqueue-to-start ratio docs/performance.md discusses.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from redis.asyncio import Redis

from benchmarks.scenarios import percentile

GAPS_MS = (0.0, 1.0, 5.0)


async def measure(url: str, count: int) -> dict[float, tuple[float, float]]:
    """p50 and p99 (ms) of a PING after each idle gap in GAPS_MS."""
    client = Redis.from_url(url)
    try:
        await client.ping()
        out: dict[float, tuple[float, float]] = {}
        for gap in GAPS_MS:
            samples = []
            for _ in range(count):
                if gap:
                    await asyncio.sleep(gap / 1000)
                began = time.perf_counter()
                await client.ping()
                samples.append((time.perf_counter() - began) * 1000)
            out[gap] = (percentile(samples, 50), percentile(samples, 99))
        return out
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    results = asyncio.run(measure(args.redis_url, args.count))
    print("| idle before the PING | p50 (ms) | p99 (ms) |\n| --- | --- | --- |")
    for gap, (p50, p99) in results.items():
        print(f"| {gap:g} ms | {p50:.3f} | {p99:.3f} |")


if __name__ == "__main__":
    main()
