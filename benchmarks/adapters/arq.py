"""arq (redis<6 virtualenv): a sorted-set queue polled by the worker."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from benchmarks.adapters.base import Adapter, db_url

# arq's job and result keys have a fixed "arq:" prefix, so it gets a database of its own
# where nothing else writes "arq:" keys; only those and the prefixed ones are deleted.
ARQ_DB = 15


class ArqAdapter(Adapter):
    name = "arq"
    venv = "redis5"
    results = "yes (keep_result=3600)"
    notes = "the worker polls every 0.5 s when idle (poll_delay, its default)"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(db_url(url, ARQ_DB), prefix, probe_key)
        self.queue_name = f"{prefix}:queue"
        self.pool: Any = None

    async def open(self) -> None:
        if self.pool is None:
            self.pool = await create_pool(
                RedisSettings.from_dsn(self.url), default_queue_name=self.queue_name
            )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()

    async def send(self, task: str, *args: float) -> None:
        await self.pool.enqueue_job(task, *args)

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        await self.pool.enqueue_job("late", sent_at, due_at, _defer_by=delay)

    def patterns(self) -> list[str]:
        return [
            *super().patterns(),
            "arq:job:*",
            "arq:result:*",
            "arq:in-progress:*",
            "arq:retry:*",
        ]

    def worker_argv(self, concurrency: int) -> list[str]:
        return [self.bin("arq"), "benchmarks.apps.arq_app.WorkerSettings"]
