"""Fixtures for the runtime's integration tests: a fresh key prefix, the test app bound to the
test Redis, worker processes that are always reaped, and private redis-server processes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ResponseError

from tests.integration.runtime import apps
from waasp.runtime import FAILURE, Runtime, Worker
from waasp.runtime.app import default_result_url
from waasp.runtime.broker.errors import REDIS_ERRORS
from waasp.runtime.keys import GROUP
from waasp.runtime.results import AsyncResult
from waasp.runtime.testing import bound_runtime

__all__ = ["bound_runtime"]  # the plugin's, imported from here by other suites

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.integration.runtime.apps:runtime"


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)


async def get_when_reachable(result: AsyncResult, timeout: float = 20.0) -> object:
    """``result.get`` that tolerates the client's own reconnects."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await result.get(timeout=max(deadline - time.monotonic(), 0.1))
        except REDIS_ERRORS:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def runs(runtime: Runtime, tag: str) -> int:
    """How many times the test task tagged ``tag`` has executed, in any process."""
    return int(await runtime.broker.client.get(apps.runs_key(runtime, tag)) or 0)


async def start_times(runtime: Runtime, tag: str) -> list[float]:
    """When each execution of ``tag`` started (epoch seconds)."""
    raw = await runtime.broker.client.lrange(apps.times_key(runtime, tag), 0, -1)
    return [float(x) for x in raw]


async def stream_state(runtime: Runtime, queue: str = "default") -> tuple[int, int]:
    """(XLEN, pending count) of a queue's stream."""
    client = runtime.broker.client
    stream = runtime.keys.queue(queue).stream
    length = int(await client.xlen(stream))
    try:
        pending = await client.xpending(stream, GROUP)
    except ResponseError:  # no group yet: nothing was ever read
        return length, 0
    return length, int(pending["pending"])


async def wait_settled(
    runtime: Runtime, *, dead: int | None = None, queue: str = "default", timeout: float = 10.0
) -> None:
    """Wait until the queue's stream is empty with nothing pending (and, if given, ``dead``
    dead letters exist). A result is stored before its entry is acknowledged, so a test that
    saw the result must wait for the acknowledgement (and the dead letter it brings)."""

    async def settled() -> bool:
        if await stream_state(runtime, queue) != (0, 0):
            return False
        return dead is None or sum((await runtime.dlq.count()).values()) == dead

    await wait_until(settled, timeout)


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run an in-process worker for the block, then stop it and wait for its exit."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def key_prefix(runtime_key_prefix: str) -> str:
    """A fresh key prefix: the runtime plugin's, whose keys are deleted (by SCAN) afterwards."""
    return runtime_key_prefix


@pytest.fixture
async def runtime(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """The test app, bound to the test Redis (results on db 1) under a fresh prefix."""
    async with bound_runtime(apps.runtime, redis_url, key_prefix) as rt:
        yield rt


async def rebind(rt: Runtime, url: str) -> None:
    """Point the runtime at another server (results on its db 1)."""
    await rt.close()
    rt._announced.clear()
    rt.conf.update(broker_url=url, result_backend=default_result_url(url))


@dataclasses.dataclass
class WorkerProcess:
    """A ``python -m waasp.runtime worker`` subprocess."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Tell whether the process is still running."""
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send a signal if the process still runs."""
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL and reap."""
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    async def exited(self, timeout: float = 15.0) -> int:
        """Wait (without blocking the event loop) for the exit; return the exit code."""
        deadline = time.monotonic() + timeout
        while (code := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"worker {self.name} still running after {timeout}s:\n{self.output()}")
            await asyncio.sleep(0.02)
        return code

    def output(self) -> str:
        """Everything the worker logged so far."""
        return self.log.read_text("utf-8", "replace")


class WorkerFactory:
    """Starts worker subprocesses for one test; ``reap`` kills whatever is left."""

    def __init__(self, env: dict[str, str], tmp: Path, app: str = APP) -> None:
        self.env = env
        self.tmp = tmp
        self.app = app
        self.started: list[WorkerProcess] = []

    def start(
        self,
        queues: str = "default",
        concurrency: int = 4,
        *,
        burst: bool = False,
        env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> WorkerProcess:
        """Start a worker on ``queues`` with ``concurrency`` executors."""
        name = f"w{len(self.started)}-{uuid.uuid4().hex[:6]}"
        log = self.tmp / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "waasp.runtime",
            "worker",
            "-A",
            self.app,
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            name,
            "--logformat",
            "json",
            *(["--burst"] if burst else []),
            *extra_args,
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                env={**self.env, **(env or {})},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(name, proc, log)
        self.started.append(worker)
        return worker

    def reap(self) -> None:
        """SIGKILL every worker still running (no orphans, whatever the test did)."""
        for worker in self.started:
            if worker.alive():
                worker.kill()


async def start_until_failed(
    workers: WorkerFactory, result: AsyncResult, attempts: int, **start: Any
) -> WorkerProcess:
    """Start workers one at a time, each once the last has died, until ``result`` is FAILURE
    (a poison task dead-lettered); return the last worker."""
    worker = None
    for _ in range(attempts):
        worker = workers.start(**start)

        async def died_or_failed(current: WorkerProcess = worker) -> bool:
            return not current.alive() or await result.state() == FAILURE

        await wait_until(died_or_failed, timeout=30)
        if await result.state() == FAILURE:
            break
    assert worker is not None
    return worker


def worker_env(redis_url: str, key_prefix: str, visibility_timeout: float) -> dict[str, str]:
    """The environment of a worker process bound to ``redis_url`` under ``key_prefix``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAASP_")}
    env.update(
        WAASP_REDIS_URL=redis_url,
        WAASP_RESULT_URL=default_result_url(redis_url),
        WAASP_KEY_PREFIX=key_prefix,
        WAASP_VISIBILITY_TIMEOUT=str(visibility_timeout),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


@pytest.fixture
def workers(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start worker processes on the test Redis (visibility timeout 2 s unless overridden)."""
    factory = WorkerFactory(worker_env(redis_url, key_prefix, 2.0), tmp_path)
    try:
        yield factory
    finally:
        factory.reap()


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m waasp.runtime ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "waasp.runtime", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli_env(redis_url: str, key_prefix: str) -> dict[str, str]:
    """The environment for CLI subprocesses under the test's prefix."""
    return worker_env(redis_url, key_prefix, 2.0)


@pytest.fixture
def unruly_workers(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Like ``workers``, running the misbehaving tasks of ``unruly`` as well."""
    env = worker_env(redis_url, key_prefix, 2.0)
    factory = WorkerFactory(env, tmp_path, app="tests.integration.runtime.unruly:runtime")
    try:
        yield factory
    finally:
        factory.reap()
