"""The streaq worker (``streaq run benchmarks.apps.streaq_app:worker``)."""

from __future__ import annotations

import asyncio
from typing import Any

from streaq import Worker

from benchmarks import probe
from benchmarks.apps import env


def build(url: str, prefix: str, concurrency: int) -> dict[str, Any]:
    """A streaq Worker whose queue name carries ``prefix`` (its keys are streaq:<queue>...)."""
    worker = Worker(redis_url=url, queue_name=prefix, concurrency=concurrency)

    @worker.task(name="noop")
    async def noop() -> None:
        probe.done()

    @worker.task(name="late")
    async def late(sent_at: float, due_at: float | None = None) -> None:
        probe.late(sent_at, due_at)

    @worker.task(name="sleep1")
    async def sleep1() -> None:
        probe.started()
        await asyncio.sleep(1)
        probe.done()

    return {"worker": worker, "noop": noop, "late": late, "sleep1": sleep1}


app = build(env.URL, env.PREFIX, env.CONCURRENCY)
worker = app["worker"]
