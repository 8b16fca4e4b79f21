"""taskiq with taskiq-redis's Streams broker and Redis result backend."""

from __future__ import annotations

from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.apps.taskiq_app import build


class TaskiqAdapter(Adapter):
    name = "taskiq"
    results = "yes (RedisAsyncResultBackend)"
    notes = "RedisStreamBroker; delays need a separate scheduler process (not measured)"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.app: dict[str, Any] = build(url, prefix)

    async def open(self) -> None:
        await self.app["broker"].startup()

    async def close(self) -> None:
        await self.app["broker"].shutdown()

    async def send(self, task: str, *args: float) -> None:
        await self.app[task].kiq(*args)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            self.bin("taskiq"),
            "worker",
            "benchmarks.apps.taskiq_app:broker",
            "--workers",
            "1",
            "--max-async-tasks",
            str(concurrency),
            "--log-level",
            "WARNING",
        ]
