"""Celery 5 with the Redis transport and the Redis result backend, thread pool."""

from __future__ import annotations

from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.apps.celery_app import build


class CeleryAdapter(Adapter):
    name = "celery"
    results = "yes (Redis result backend, configured)"
    notes = "sync API; -P threads (asyncio tasks are not supported); acks_late=True"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.app: Any = build(url, prefix)

    async def close(self) -> None:
        self.app.close()

    async def send(self, task: str, *args: float) -> None:
        self.app.tasks[f"bench.{task}"].delay(*args)

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        self.app.tasks["bench.late"].apply_async((sent_at, due_at), countdown=delay)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            self.bin("celery"),
            "-A",
            "benchmarks.apps.celery_app:app",
            "worker",
            "-P",
            "threads",
            "-c",
            str(concurrency),
            "-Q",
            "default",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
