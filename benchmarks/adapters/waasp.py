"""waasp.runtime: ``await task.delay()``, ``runtime.send_many``, the CLI worker."""

from __future__ import annotations

import sys

from benchmarks.adapters.base import Adapter
from benchmarks.apps.waasp_app import build
from waasp.runtime import Runtime


class WaaspAdapter(Adapter):
    name = "waasp"
    results = "yes (Redis db 1, STARTED tracked too)"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.runtime: Runtime = build(url, prefix)

    async def close(self) -> None:
        await self.runtime.close()

    async def send(self, task: str, *args: float) -> None:
        await self.runtime.tasks[f"bench.{task}"].delay(*args)

    async def send_bulk(self, n: int, task: str = "noop") -> None:
        signature = self.runtime.tasks[f"bench.{task}"]
        await self.runtime.send_many([signature.s() for _ in range(n)])

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        await self.runtime.tasks["bench.late"].apply_async((sent_at, due_at), countdown=delay)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "waasp.runtime",
            "worker",
            "-A",
            "benchmarks.apps.waasp_app:runtime",
            "-Q",
            "default",
            "-c",
            str(concurrency),
            "--loglevel",
            "warning",
        ]

    def dbs(self) -> list[int]:
        return [*super().dbs(), 1]


class WaaspPriorityAdapter(WaaspAdapter):
    """waasp.runtime with priorities on: every send takes the next of the ten priorities in
    turn, so every level's stream of the queue is used (compare with ``waasp`` in one run)."""

    name = "waasp-prio"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self._turn = 0

    def _priority(self) -> int:
        self._turn += 1
        return self._turn % 10

    async def send(self, task: str, *args: float) -> None:
        found = self.runtime.tasks[f"bench.{task}"]
        await found.apply_async(args, priority=self._priority())

    async def send_bulk(self, n: int, task: str = "noop") -> None:
        found = self.runtime.tasks[f"bench.{task}"]
        await self.runtime.send_many([found.s().set(priority=self._priority()) for _ in range(n)])

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        late = self.runtime.tasks["bench.late"]
        await late.apply_async((sent_at, due_at), countdown=delay, priority=self._priority())
