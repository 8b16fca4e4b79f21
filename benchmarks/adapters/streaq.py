"""streaq: Redis Streams + consumer groups, anyio, results kept by default."""

from __future__ import annotations

from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.apps.streaq_app import build


class StreaqAdapter(Adapter):
    name = "streaq"
    results = "yes (default)"
    notes = "pickle serializer (its default)"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.app: dict[str, Any] = build(url, prefix, 16)
        self.worker: Any = self.app["worker"]
        self.entered = False

    async def open(self) -> None:
        if not self.entered:
            await self.worker.__aenter__()
            self.entered = True

    async def close(self) -> None:
        if self.entered:
            await self.worker.__aexit__(None, None, None)
            self.entered = False

    async def send(self, task: str, *args: float) -> None:
        await self.app[task].enqueue(*args)

    async def send_bulk(self, n: int, task: str = "noop") -> None:
        await self.worker.enqueue_many([self.app[task].enqueue() for _ in range(n)])

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        await self.app["late"].enqueue(sent_at, due_at).start(delay=int(delay))

    def worker_argv(self, concurrency: int) -> list[str]:
        return [self.bin("streaq"), "run", "benchmarks.apps.streaq_app:worker"]
