"""The arq worker settings (``arq benchmarks.apps.arq_app.WorkerSettings``); redis<6 venv."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from arq.connections import RedisSettings

from benchmarks import probe
from benchmarks.apps import env


async def noop(ctx: Any) -> None:
    probe.done()


async def late(ctx: Any, sent_at: float, due_at: float | None = None) -> None:
    probe.late(sent_at, due_at)


async def sleep1(ctx: Any) -> None:
    probe.started()
    await asyncio.sleep(1)
    probe.done()


class WorkerSettings:
    """arq reads these class attributes."""

    functions: ClassVar[list[Any]] = [noop, late, sleep1]
    redis_settings = RedisSettings.from_dsn(env.URL)
    queue_name = f"{env.PREFIX}:queue"
    max_jobs = env.CONCURRENCY
    keep_result = env.RESULT_TTL
