"""The taskiq broker (``taskiq worker benchmarks.apps.taskiq_app:broker``)."""

from __future__ import annotations

import asyncio
from typing import Any

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from benchmarks import probe
from benchmarks.apps import env


def build(url: str, prefix: str) -> dict[str, Any]:
    """taskiq-redis's Streams broker (acks after the task) with the Redis result backend."""
    backend: Any = RedisAsyncResultBackend(
        redis_url=url, result_ex_time=env.RESULT_TTL, prefix_str=prefix
    )
    broker = RedisStreamBroker(
        url=url, queue_name=f"{prefix}:stream", consumer_group_name="bench"
    ).with_result_backend(backend)

    @broker.task(task_name="noop")
    async def noop() -> None:
        probe.done()

    @broker.task(task_name="late")
    async def late(sent_at: float, due_at: float | None = None) -> None:
        probe.late(sent_at, due_at)

    @broker.task(task_name="sleep1")
    async def sleep1() -> None:
        probe.started()
        await asyncio.sleep(1)
        probe.done()

    return {"broker": broker, "noop": noop, "late": late, "sleep1": sleep1}


app = build(env.URL, env.PREFIX)
broker = app["broker"]
