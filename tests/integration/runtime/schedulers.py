"""Scheduler subprocesses and what they enqueued: shared by the scheduler tests and the
fault suite (schedulers SIGKILLed while they run)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from waasp.runtime import Runtime
from waasp.runtime.cron.schedules import from_ms
from waasp.runtime.message import decode_message

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.integration.runtime.sched_app:runtime"
TASK = "tests.integration.runtime.sched_app.tick"
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Fired:
    """One enqueued tick, as read back from the stream."""

    enqueued_ms: int
    tick: datetime
    task_id: str
    entry: str


class Schedulers:
    """Scheduler subprocesses (``python -m waasp.runtime scheduler``) under one prefix."""

    def __init__(self, redis_url: str, prefix: str, logs: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WAASP_REDIS_URL": redis_url,
            "WAASP_KEY_PREFIX": prefix,
        }
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        """Start one scheduler; its JSON log goes to a file."""
        log = (self.logs / f"scheduler-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "waasp.runtime", "scheduler", "-A", APP, "--logformat", "json"],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=log,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
        """The JSON log lines of a scheduler."""
        path = self.logs / f"scheduler-{self.procs.index(proc)}.log"
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        """Signal a scheduler and reap it."""
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        """Stop every scheduler still running."""
        for proc in self.procs:
            self.stop(proc)


async def fired(rt: Runtime, queue: str = "beat") -> list[Fired]:
    """Every tick enqueued on ``queue``, in stream order."""
    out: list[Fired] = []
    for entry_id, fields in await rt.broker.client.xrange(rt.keys.queue(queue).stream):
        message = decode_message(fields[b"message"])
        out.append(
            Fired(
                int(entry_id.split(b"-")[0]),
                datetime.fromisoformat(message.headers["scheduled_for"]),
                message.id,
                message.headers["beat_entry"],
            )
        )
    return out


async def server_now(rt: Runtime) -> datetime:
    """The Redis server's clock."""
    seconds, micros = await rt.broker.client.time()
    return from_ms(int(seconds) * 1000 + int(micros) // 1000)


async def wait_for_ticks(rt: Runtime, count: int, timeout: float = 15.0) -> list[Fired]:
    """Wait until at least ``count`` ticks were enqueued."""
    async with asyncio.timeout(timeout):
        while len(ticks := await fired(rt)) < count:
            await asyncio.sleep(0.05)
    return ticks


def assert_each_tick_once_consecutive(ticks: list[Fired]) -> None:
    """Unique ticks and ids, in order, one second apart: no duplicate, no gap."""
    instants = [f.tick for f in ticks]
    assert len(set(instants)) == len(instants), "a tick was enqueued twice"
    assert len({f.task_id for f in ticks}) == len(ticks)
    assert instants == sorted(instants)
    gaps = {b - a for a, b in itertools.pairwise(instants)}
    assert gaps <= {SECOND}, f"ticks missing: gaps {sorted(gaps)}"
