"""The interface every system's adapter implements, and the worker processes it starts.

Stdlib and redis-py only: adapters of the redis<6 virtualenv import this too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "benchmarks" / "results" / "logs"


class Unsupported(Exception):
    """The system has no such feature (no bulk API, no delayed tasks without a scheduler)."""


def db_url(url: str, db: int) -> str:
    """``url`` pointing at database ``db``."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


class Adapter:
    """One system: how to send its three tasks and how to start its worker processes.

    ``name`` is the column; ``results`` says where the system stores task results (the
    drain scenarios count that work); ``venv`` is ``main`` or ``redis5``.
    """

    name: ClassVar[str]
    venv: ClassVar[str] = "main"
    results: ClassVar[str]
    notes: ClassVar[str] = ""

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        self.url = url
        self.prefix = prefix
        self.probe_key = probe_key

    async def open(self) -> None:
        """Connect (before timing starts)."""

    async def close(self) -> None:
        """Close connections."""

    async def send(self, task: str, *args: float) -> None:
        """Enqueue one ``noop``, ``sleep1`` or ``late(sent_at[, due_at])`` task."""
        raise NotImplementedError

    async def send_bulk(self, n: int, task: str = "noop") -> None:
        """Enqueue ``n`` tasks through the system's bulk API; Unsupported if it has none."""
        raise Unsupported(f"{self.name} has no bulk enqueue API")

    async def send_delayed(self, delay: float, sent_at: float, due_at: float) -> None:
        """Enqueue ``late(sent_at, due_at)`` to start ``delay`` seconds from now."""
        raise Unsupported(f"{self.name} has no delayed tasks")

    async def prequeue(self, n: int, task: str) -> None:
        """Enqueue ``n`` tasks as fast as the system allows (untimed)."""
        try:
            await self.send_bulk(n, task)
        except Unsupported:
            for _ in range(n):
                await self.send(task)

    def worker_argv(self, concurrency: int) -> list[str]:
        """The command line of one worker process running ``concurrency`` tasks at once."""
        raise NotImplementedError

    def dbs(self) -> list[int]:
        """Databases holding this system's keys."""
        return [int(self.url.rsplit("/", 1)[1] or 0)]

    def patterns(self) -> list[str]:
        """Key patterns to delete after a measurement (in every one of ``dbs``)."""
        return [f"*{self.prefix}*"]

    def bin(self, script: str) -> str:
        """A console script of the running virtualenv."""
        return str(Path(sys.executable).parent / script)

    def spawn(self, concurrency: int, log_name: str) -> subprocess.Popen[bytes]:
        """Start one worker process (in its own session, so its children stop with it)."""
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BENCH_REDIS_URL": self.url,
            "BENCH_PROBE_URL": os.environ.get("BENCH_PROBE_URL", self.url),
            "BENCH_PREFIX": self.prefix,
            "BENCH_PROBE_KEY": self.probe_key,
            "BENCH_CONCURRENCY": str(concurrency),
        }
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with (LOG_DIR / f"{log_name}.log").open("ab") as log:
            return subprocess.Popen(
                self.worker_argv(concurrency),
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group, SIGKILL it if it has not exited in 10 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass
