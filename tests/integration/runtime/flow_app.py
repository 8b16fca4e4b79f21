"""The tasks of the workflow and progress tests (``-A tests.integration.runtime.flow_app:runtime``).

Settings come from the environment as in ``apps``; tasks count what the tests must see on
keys under the key prefix (the chord callback's runs, every member's executions).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from waasp.runtime import Runtime, Task

runtime = Runtime("waasp")
runtime.conf.update(task_track_started=True, worker_shutdown_timeout=5)


def key(rt: Runtime, name: str) -> str:
    """A test key under the runtime's prefix."""
    return f"{rt.keys.prefix}:test:{name}"


@runtime.task
async def add(x: int, y: int) -> int:
    """Return x + y."""
    return x + y


@runtime.task
def mul(x: int, y: int) -> int:
    """Return x * y (a ``def`` task, in the thread pool)."""
    return x * y


@runtime.task
async def explode(*args: Any) -> None:
    """Always fail."""
    raise ValueError(f"exploded on {list(args)}")


@runtime.task
async def count_runs(value: Any, name: str) -> Any:
    """Count an execution under ``name``; return ``value`` unchanged."""
    await runtime.broker.client.incr(key(runtime, name))
    return value


@runtime.task
async def square(i: int, pause: float = 0.0) -> int:
    """Return i * i after ``pause`` seconds, counting each execution."""
    await runtime.broker.client.incr(key(runtime, "square_runs"))
    if pause:
        await asyncio.sleep(pause)
    return i * i


@runtime.task
async def total(values: list[int], offset: int = 0) -> int:
    """A chord callback: sum the members' results, counting its executions in a ledger."""
    await runtime.broker.client.incr(key(runtime, "callback_runs"))
    await runtime.broker.client.rpush(key(runtime, "callback_args"), repr(values))
    return sum(values) + offset


async def _wait_for(name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await runtime.broker.client.exists(key(runtime, name)):
        if time.monotonic() > deadline:
            raise TimeoutError(name)
        await asyncio.sleep(0.02)


@runtime.task(bind=True)
async def report_async(self: Task, steps: int) -> str:
    """Report PROGRESS after each step; wait for the test's go before each next one."""
    for done in range(1, steps + 1):
        self.update_state(state="PROGRESS", meta={"done": done, "total": steps})
        await _wait_for(f"go:{self.request.id}:{done}")
    return "finished"


@runtime.task(bind=True)
def report_sync(self: Task, steps: int) -> str:
    """The same from the thread pool (a ``def`` task)."""
    client = redis.Redis.from_url(runtime.conf.broker_url)
    try:
        for done in range(1, steps + 1):
            self.update_state(state="PROGRESS", meta={"done": done, "total": steps})
            deadline = time.monotonic() + 30
            while not client.exists(key(runtime, f"go:{self.request.id}:{done}")):
                if time.monotonic() > deadline:
                    raise TimeoutError("go")
                time.sleep(0.02)
    finally:
        client.close()
    return "finished"


@runtime.task(bind=True)
async def bad_progress(self: Task) -> str:
    """Pass update_state a meta JSON cannot hold, and a final state: both refused."""
    errors = []
    for state, meta in (("PROGRESS", {"x": object()}), ("SUCCESS", None)):
        try:
            self.update_state(state=state, meta=meta)
        except (TypeError, ValueError) as exc:
            errors.append(type(exc).__name__)
    return ",".join(errors)
