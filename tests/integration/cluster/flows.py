"""A producer sending numbered tasks while something fails Redis over, and what ran after."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.cluster import flow_app
from tests.integration.runtime.conftest import WorkerFactory, bound_runtime, worker_env
from waasp.runtime import Runtime
from waasp.runtime.broker import ANY_REDIS_ERROR

APP = "tests.integration.cluster.flow_app:runtime"
# Seconds without a task running after which the missing ones count as lost (the workers
# reclaim a dead consumer's entries after their 5 s visibility timeout).
QUIET_S = 15.0


@dataclass(frozen=True)
class FlowReport:
    """What a flow sent and what ran."""

    total: int
    returned: int  # sends that returned (the producer was told they were enqueued)
    refused: int  # sends that raised (the producer knew to send again)
    lost: int  # returned but never ran

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.returned} of {self.total} sends returned ({self.refused} raised and "
            f"were sent again), {self.lost} of those never ran"
        )


def ran(ledger: Path) -> set[int]:
    """The numbers of the tasks that ran."""
    if not ledger.exists():
        return set()
    return {int(line) for line in ledger.read_text().split() if line.strip()}


async def run_flow(
    workers: WorkerFactory,
    ledger: Path,
    total: int,
    fail_over: Callable[[], Coroutine[Any, Any, None]],
    label: str,
    *,
    settle_timeout: float = 120.0,
    task_seconds: float = 0.0,
) -> FlowReport:
    """Send ``total`` tasks by ``flow_app``'s runtime (bound by the caller), sending again
    those whose send raised, with two workers running; call ``fail_over`` a third of the
    way; wait for the returned ones to run; check the workers are still running, stop
    them, print the report (``label``) and return it. With ``task_seconds``, each task works
    that long on one executor per worker, so a backlog builds up behind the producer."""
    env = {"WAASP_TEST_LEDGER": str(ledger), "WAASP_TEST_TASK_SECONDS": str(task_seconds)}
    for _ in range(2):
        workers.start("flow", concurrency=1 if task_seconds else 8, env=env)
    try:
        report = await _flow(ledger, total, fail_over, settle_timeout)
        for worker in workers.started:
            tail = worker.log.read_text(errors="replace")[-4000:] if worker.log.exists() else ""
            assert worker.alive(), f"worker {worker.name} exited:\n{tail}"
    finally:
        workers.reap()
    print(report.line(label))
    return report


async def _flow(
    ledger: Path,
    total: int,
    fail_over: Callable[[], Coroutine[Any, Any, None]],
    settle_timeout: float,
) -> FlowReport:
    returned: set[int] = set()
    refused = 0
    failing: asyncio.Task[None] | None = None
    for n in range(total):
        if n == total // 3:
            failing = asyncio.create_task(fail_over())
        deadline = time.monotonic() + 60
        while True:
            try:
                await flow_app.mark.apply_async((n,))
                returned.add(n)
                break
            except ANY_REDIS_ERROR:
                refused += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.002)  # a steady producer, so the failover lands mid-flow
    assert failing is not None
    await failing
    # Wait for the returned ones to run; ones lost never will: stop once nothing new has run
    # for QUIET_S (or at settle_timeout).
    deadline = time.monotonic() + settle_timeout
    seen, quiet_since = len(ran(ledger)), time.monotonic()
    while not returned <= ran(ledger) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if (now_seen := len(ran(ledger))) != seen:
            seen, quiet_since = now_seen, time.monotonic()
        elif time.monotonic() - quiet_since > QUIET_S:
            break
    return FlowReport(total, len(returned), refused, len(returned - ran(ledger)))


@contextlib.asynccontextmanager
async def flow_runtime_on(url: str) -> AsyncIterator[Runtime]:
    """``flow_app``'s runtime on ``url`` under a fresh key prefix."""
    async with bound_runtime(flow_app.runtime, url, f"wf{uuid.uuid4().hex[:10]}") as rt:
        yield rt


def flow_workers(url: str, prefix: str, tmp: Path, min_replicas: int) -> WorkerFactory:
    """A factory of ``flow_app`` workers on ``url`` under ``prefix``."""
    env = worker_env(url, prefix, 5.0)
    env["WAASP_MIN_REPLICAS"] = str(min_replicas)
    return WorkerFactory(env, tmp, APP)
