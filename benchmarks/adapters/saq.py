"""saq (redis<6 virtualenv): Redis lists + sorted sets, job state stored in Redis."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.apps.saq_app import queue


class SaqAdapter(Adapter):
    name = "saq"
    venv = "redis5"
    results = "yes (job hash kept, its default)"
    notes = "scheduled jobs promoted by a 1 s timer (its default)"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.queue: Any = queue(url, prefix)

    async def open(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def send(self, task: str, *args: float) -> None:
        if task == "late":
            await self.queue.enqueue("late", sent_at=args[0])
        else:
            await self.queue.enqueue(task)

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        await self.queue.enqueue(
            "late", sent_at=sent_at, due_at=due_at, scheduled=int(time.time() + delay)
        )

    def worker_argv(self, concurrency: int) -> list[str]:
        return [self.bin("saq"), "benchmarks.apps.saq_app.settings", "--workers", "1"]
