"""dramatiq with the Redis broker and the Results middleware, one process of threads."""

from __future__ import annotations

from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.apps.dramatiq_app import build


class DramatiqAdapter(Adapter):
    name = "dramatiq"
    results = "yes (Results middleware, store_results=True)"
    notes = "sync actors in --threads N; delayed messages via its delay queue"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.app: dict[str, Any] = build(url, prefix)

    async def close(self) -> None:
        self.app["broker"].close()

    async def send(self, task: str, *args: float) -> None:
        self.app[task].send(*args)

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        self.app["late"].send_with_options(args=(sent_at, due_at), delay=int(delay * 1000))

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            self.bin("dramatiq"),
            "benchmarks.apps.dramatiq_app",
            "--processes",
            "1",
            "--threads",
            str(concurrency),
            "--queues",
            "default",
        ]
