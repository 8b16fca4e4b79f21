"""The scenarios, written once against the Adapter interface.

Each returns ``{metric: value}`` for one repetition. Worker processes are real
subprocesses; what they did is read from the probe (see ``probe.py``), so no system pays
for being measured. Stdlib and redis-py only: the redis<6 runner imports this too.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from benchmarks.adapters.base import Adapter, stop

DRAIN_CONCURRENCY = 16
LATENCY_CONCURRENCY = 10
LATENCY_RATE = 200.0
SLEEP_CONCURRENCY = 100
START_TIMEOUT = 60.0

Metrics = dict[str, float]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Probe:
    """The harness's side of the probe: what the worker processes have reported."""

    def __init__(self, client: Redis, key: str) -> None:
        self.client = client
        self.key = key

    async def totals(self) -> tuple[int, float, float]:
        """Tasks done, earliest start and latest end over every worker process."""
        count, first, last = 0, float("inf"), 0.0
        for value in (await self.client.hgetall(self.key)).values():
            c, f, x = value.split()
            count += int(c)
            first, last = min(first, float(f)), max(last, float(x))
        return count, first, last

    async def wait(
        self, n: int, timeout: float, workers: list[subprocess.Popen[bytes]] | None = None
    ) -> tuple[float, float]:
        """Wait until ``n`` tasks are done; their first start and last end."""
        deadline = time.monotonic() + timeout
        while True:
            count, first, last = await self.totals()
            if count >= n:
                return first, last
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {n} tasks done after {timeout:.0f} s")
            for worker in workers or ():
                if worker.poll() is not None:
                    raise RuntimeError(f"worker exited with {worker.returncode} (see logs)")
            await asyncio.sleep(0.01)

    async def lateness_ms(self) -> list[float]:
        """Every recorded lateness, in milliseconds."""
        return [float(x) * 1000 for x in await self.client.lrange(f"{self.key}:late", 0, -1)]


class Session:
    """One measurement: an adapter under a fresh prefix, its workers, and its cleanup."""

    def __init__(self, adapter: Adapter, probe_url: str) -> None:
        self.adapter = adapter
        self.client = Redis.from_url(probe_url, decode_responses=True)
        self.probe = Probe(self.client, adapter.probe_key)
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_workers(self, processes: int, concurrency: int) -> float:
        """Start worker processes; the time they were started."""
        started = time.time()
        for i in range(processes):
            log = f"{self.adapter.prefix}-{self.adapter.name}-{i}"
            self.workers.append(self.adapter.spawn(concurrency, log))
        return started

    async def warm_up(self) -> None:
        """Wait until the workers run tasks (one no-op done), so start-up is not measured."""
        await self.adapter.send("noop")
        await self.probe.wait(1, START_TIMEOUT, self.workers)

    async def close(self) -> None:
        """Stop the workers and delete every key of this measurement."""
        for worker in self.workers:
            await asyncio.to_thread(stop, worker)
        await self.adapter.close()
        base = self.adapter.url.rsplit("/", 1)[0]
        for db in self.adapter.dbs():
            client = Redis.from_url(f"{base}/{db}")
            for pattern in self.adapter.patterns():
                batch: list[bytes] = []
                async for key in client.scan_iter(match=pattern, count=1000):
                    batch.append(key)
                    if len(batch) >= 1000:
                        await client.unlink(*batch)
                        batch = []
                if batch:
                    await client.unlink(*batch)
            await client.aclose()
        await self.client.delete(self.adapter.probe_key, f"{self.adapter.probe_key}:late")
        await self.client.aclose()


async def timed(n: int, send: Callable[[], Awaitable[None]]) -> float:
    """Seconds to await ``send`` n times."""
    start = time.perf_counter()
    for _ in range(n):
        await send()
    return time.perf_counter() - start


# -- scenarios -----------------------------------------------------------------------------


async def enqueue_one(session: Session, n: int) -> Metrics:
    """Enqueue n no-ops one call at a time (no worker running)."""
    adapter = session.adapter
    await adapter.open()
    await adapter.send("noop")  # connect, declare the queue
    seconds = await timed(n, lambda: adapter.send("noop"))
    return {"rate": n / seconds}


async def enqueue_bulk(session: Session, n: int) -> Metrics:
    """Enqueue n no-ops through the bulk API."""
    adapter = session.adapter
    await adapter.open()
    await adapter.send("noop")
    start = time.perf_counter()
    await adapter.send_bulk(n)
    return {"rate": n / (time.perf_counter() - start)}


async def drain(session: Session, n: int, processes: int) -> Metrics:
    """n pre-queued no-ops drained by ``processes`` worker processes.

    ``rate``: n over first task start to last task end (start-up excluded);
    ``cold``: n over worker spawn to last task end (start-up included).
    """
    adapter = session.adapter
    await adapter.open()
    await adapter.prequeue(n, "noop")
    spawned = session.start_workers(processes, DRAIN_CONCURRENCY)
    first, last = await session.probe.wait(n, max(120.0, n / 50), session.workers)
    return {"rate": n / (last - first), "cold": n / (last - spawned)}


async def lateness(
    session: Session, n: int, send: Callable[[Adapter], Awaitable[object]], timeout: float = 60
) -> Metrics:
    """One idle worker; ``send`` enqueues n ``late`` tasks; how late each started."""
    adapter = session.adapter
    await adapter.open()
    session.start_workers(1, LATENCY_CONCURRENCY)
    await session.warm_up()
    await send(adapter)
    await session.probe.wait(n + 1, timeout, session.workers)
    return spread(await session.probe.lateness_ms())


async def latency(session: Session, n: int) -> Metrics:
    """Enqueue-to-start latency of tasks sent at a steady 200/s to one idle worker."""
    return await lateness(
        session, n, lambda a: paced(n, LATENCY_RATE, lambda now: a.send("late", now))
    )


async def latency_drained(session: Session, n: int, drained: int) -> Metrics:
    """As ``latency``, but the same worker has just drained ``drained`` pre-queued no-ops:
    what a drain leaves behind (expiring keys, a long stream, a grown heap) shows here."""
    adapter = session.adapter
    await adapter.open()
    await adapter.prequeue(drained, "noop")
    session.start_workers(1, LATENCY_CONCURRENCY)
    await session.probe.wait(drained, max(120.0, drained / 50), session.workers)
    await paced(n, LATENCY_RATE, lambda now: adapter.send("late", now))
    await session.probe.wait(drained + n, 60, session.workers)
    return spread(await session.probe.lateness_ms())


async def delay(session: Session, n: int) -> Metrics:
    """Lateness of tasks sent with a 1-second delay, at 200/s."""

    def send(a: Adapter) -> Awaitable[None]:
        return paced(n, LATENCY_RATE, lambda now: a.send_delayed(1.0, now, now + 1.0))

    return await lateness(session, n, send)


async def delay_burst(session: Session, n: int) -> Metrics:
    """Lateness of n tasks sent back to back, each with a 1-second delay."""

    async def send(a: Adapter) -> None:
        for _ in range(n):
            now = time.time()
            await a.send_delayed(1.0, now, now + 1.0)

    return await lateness(session, n, send)


async def delay_mass(session: Session, n: int) -> Metrics:
    """Lateness of n delayed tasks all due within the same second (a retry storm): their due
    times are spread evenly over one second that starts after every send is done."""
    sent_late = False

    async def send(a: Adapter) -> None:
        nonlocal sent_late
        base = time.time() + 3.0 + n / 2000  # one by one runs at a few thousand per second
        for i in range(n):
            now = time.time()
            await a.send_delayed(base + i / n - now, now, base + i / n)
        sent_late = time.time() > base

    metrics = await lateness(session, n, send, timeout=60 + n / 100)
    return {**metrics, "sent_late": float(sent_late)}


def spread(values: list[float]) -> Metrics:
    """p50, p99 and max of latencies in milliseconds."""
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}


async def sleep_mix(session: Session, n: int) -> Metrics:
    """n pre-queued 1-second-sleep tasks at concurrency 100 in one process (ideal 100/s)."""
    adapter = session.adapter
    await adapter.open()
    await adapter.prequeue(n, "sleep1")
    session.start_workers(1, SLEEP_CONCURRENCY)
    first, last = await session.probe.wait(n, 60 + 2 * n, session.workers)
    return {"rate": n / (last - first)}


async def paced(n: int, rate: float, send: Callable[[float], Awaitable[None]]) -> None:
    """Call ``send(now)`` n times at a steady ``rate`` per second."""
    start = time.perf_counter()
    for i in range(n):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        await send(time.time())


SCENARIOS: dict[str, Callable[..., Awaitable[Metrics]]] = {
    "enqueue": enqueue_one,
    "bulk": enqueue_bulk,
    "drain": drain,
    "latency": latency,
    "latency_drained": latency_drained,
    "delay": delay,
    "delay_burst": delay_burst,
    "delay_mass": delay_mass,
    "sleep": sleep_mix,
}


async def rss(session: Session, n: int) -> Metrics:
    """Worker RSS after 10% and after 100% of n no-ops, fed in batches of 10,000 to one
    worker; Redis's used_memory growth over the run (results included, they live 1 h)."""
    import psutil

    adapter = session.adapter
    await adapter.open()
    before = int((await session.client.info("memory"))["used_memory"])
    session.start_workers(1, DRAIN_CONCURRENCY)
    await session.warm_up()
    worker = psutil.Process(session.workers[0].pid)
    batch = min(10_000, max(1, n // 10))
    samples: dict[int, float] = {}
    sent = 0
    while sent < n:
        size = min(batch, n - sent)
        await adapter.prequeue(size, "noop")
        sent += size
        await session.probe.wait(sent + 1, 120, session.workers)
        samples[sent] = tree_rss(worker) / 2**20
    after = int((await session.client.info("memory"))["used_memory"])
    tenth = min(samples, key=lambda k: abs(k - n / 10))
    return {
        "rss_tenth": samples[tenth],
        "rss_end": samples[sent],
        "growth": 100 * (samples[sent] / samples[tenth] - 1),
        "redis_mb": (after - before) / 2**20,
    }


def tree_rss(process: object) -> float:
    """Resident bytes of a process and its children."""
    import psutil

    assert isinstance(process, psutil.Process)
    return float(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]))


SCENARIOS["rss"] = rss
