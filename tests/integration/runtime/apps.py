"""The tasks the runtime's integration tests run, in worker processes and in-process.

Worker processes import this module with ``-A tests.integration.runtime.apps:runtime``; its
settings come from the environment (``WAASP_*`` as in production, ``WAASP_TEST_*`` for the
knobs only tests turn). Tasks count their executions with INCR on keys under the key prefix,
so a test sees every execution in every process, including ones whose worker was killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

import redis

from waasp.runtime import Runtime, Task
from waasp.runtime.broker.client import connect_blocking

runtime = Runtime("waasp")
runtime.conf.update(
    task_track_started=True,
    task_default_retry_delay=0.05,
    broker_max_deliveries=int(os.environ.get("WAASP_TEST_MAX_DELIVERIES", "5")),
    result_expires=float(os.environ.get("WAASP_TEST_RESULT_EXPIRES", "600")),
    worker_shutdown_timeout=float(os.environ.get("WAASP_TEST_SHUTDOWN_TIMEOUT", "20")),
    task_routes={
        "tests.integration.runtime.apps.urgent_*": {"queue": "high"},
        "*": {"queue": "default"},
    },
)


class TemporaryError(Exception):
    """A failure worth retrying (a timeout, a 503)."""


def runs_key(rt: Runtime, tag: str) -> str:
    """Key counting the executions of ``tag`` (in one cluster slot with its times)."""
    return f"{rt.keys.prefix}:test:{{{tag}}}:runs"


def times_key(rt: Runtime, tag: str) -> str:
    """Key listing the start times (epoch seconds) of the executions of ``tag``."""
    return f"{rt.keys.prefix}:test:{{{tag}}}:times"


async def _note(tag: str) -> int:
    """Count one execution of ``tag`` and record when it started; return the count."""
    started = repr(time.time())
    client = runtime.broker.client
    for attempt in range(5):
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr(runs_key(runtime, tag))
                pipe.rpush(times_key(runtime, tag), started)
                count, _ = await pipe.execute()
            return int(count)
        except redis.exceptions.ConnectionError:
            # The runtime's clients do not retry; after a Redis restart the first command on
            # each pooled connection fails once. Task code that uses Redis must cope.
            if attempt == 4:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


@runtime.task
async def add(x: int, y: int) -> int:
    """Return x + y."""
    await _note("add")
    return x + y


@runtime.task
def multiply(x: int, y: int) -> dict[str, Any]:
    """A plain ``def`` task: runs in the worker's thread pool."""
    client = connect_blocking(runtime.conf.broker_url)
    try:
        client.incr(runs_key(runtime, "multiply"))
    finally:
        client.close()
    return {"product": x * y, "pid": os.getpid()}


@runtime.task
def quits() -> None:
    """Call sys.exit() from the worker's thread pool."""
    sys.exit(3)


@runtime.task
async def explode(text: str) -> None:
    """Always fail with a ValueError carrying ``text``."""
    await _note("explode")
    raise ValueError(text)


@runtime.task
async def urgent_ping(tag: str) -> str:
    """Routed to the ``high`` queue by the ``urgent_*`` glob."""
    await _note(f"urgent:{tag}")
    return tag


@runtime.task
async def ping(tag: str) -> str:
    """Routed to the ``default`` queue by the catch-all glob."""
    await _note(f"ping:{tag}")
    return tag


@runtime.task
async def counted(i: int, seconds: float = 0.0) -> int:
    """Count an execution of item ``i``, optionally taking ``seconds``."""
    await _note(f"counted:{i}")
    await runtime.broker.client.incr(runs_key(runtime, "counted"))
    if seconds:
        await asyncio.sleep(seconds)
    return i


@runtime.task
async def noop(i: int) -> int:
    """Do nothing (for volume tests)."""
    return i


@runtime.task
async def sleepy(tag: str, seconds: float) -> str:
    """Take ``seconds``, counting its executions."""
    await _note(f"sleepy:{tag}")
    await asyncio.sleep(seconds)
    await runtime.broker.client.incr(runs_key(runtime, f"sleepy-done:{tag}"))
    return tag


@runtime.task
async def kill_own_worker(tag: str) -> None:
    """SIGKILL the worker running it: a poison message."""
    await _note(f"poison:{tag}")
    os.kill(os.getpid(), signal.SIGKILL)


@runtime.task
def exit_own_worker(tag: str) -> None:
    """``os._exit`` the worker running it (from a pool thread): another poison message."""
    client = connect_blocking(runtime.conf.broker_url)
    try:
        client.incr(runs_key(runtime, f"poison:{tag}"))
    finally:
        client.close()
    os._exit(3)


@runtime.task(bind=True, max_retries=5)
async def retry_twice(self: Task, tag: str, countdown: float) -> int:
    """Ask for a retry on the first two executions; succeed on the third."""
    await _note(f"retry:{tag}")
    if self.request.retries < 2:
        raise self.retry(countdown=countdown)
    return self.request.retries


@runtime.task(bind=True, max_retries=2)
async def always_fails(self: Task, tag: str, *, payload: Any = None) -> None:
    """Fail every time, retrying quickly until ``max_retries`` is spent."""
    await _note(f"fails:{tag}")
    try:
        raise TemporaryError(f"{tag} is down")
    except TemporaryError as exc:
        raise self.retry(exc=exc, countdown=0.05) from exc


@runtime.task(autoretry_for=(TemporaryError,), max_retries=2)
async def permanent_error(tag: str) -> None:
    """Fail with an exception not in ``autoretry_for``: permanent."""
    await _note(f"permanent:{tag}")
    raise KeyError(tag)


@runtime.task(bind=True, autoretry_for=(TemporaryError,), retry_backoff=0.05, retry_backoff_max=0.2)
async def flaky(self: Task, tag: str, failures: int) -> int:
    """Raise TemporaryError ``failures`` times, then succeed (automatic retries)."""
    count = await _note(f"flaky:{tag}")
    if count <= failures:
        raise TemporaryError(f"attempt {count} failed")
    return self.request.retries


@runtime.task(bind=True, max_retries=3)
async def retry_then_count(self: Task, tag: str, countdown: float) -> int:
    """Count executions per attempt; the first attempt asks for a retry in ``countdown``."""
    await _note(f"attempt:{tag}:{self.request.retries}")
    if self.request.retries == 0:
        raise self.retry(countdown=countdown)
    return self.request.retries


@runtime.task(bind=True)
async def reject_me(self: Task, tag: str) -> None:
    """Dead-letter itself by hand."""
    await _note(f"reject:{tag}")
    raise self.send_to_dlq(f"{tag} cannot be processed")


@runtime.task(bind=True)
async def outlived(self: Task, tag: str, ending: str) -> str:
    """The first execution waits until a second one has finished, then ends as ``ending``
    says: "retry" (in 30 s), "fail", or "succeed" with "late". Later executions return
    "prompt" at once."""
    count = await _note(f"outlived:{tag}")
    done = runs_key(runtime, f"outlived-done:{tag}")
    client = runtime.broker.client
    if count > 1:
        await client.incr(done)
        return "prompt"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await client.exists(done):
            break
        await asyncio.sleep(0.05)
    await client.incr(runs_key(runtime, f"outlived-late:{tag}"))
    if ending == "retry":
        raise self.retry(countdown=30)
    if ending == "fail":
        raise ValueError(f"{tag} failed late")
    return "late"


@runtime.task
async def hangs(tag: str) -> None:
    """Run far longer than any test waits (a task a drain abandons)."""
    await _note(f"hangs:{tag}")
    await asyncio.sleep(3600)


@runtime.task(bind=True)
async def until_revoked(self: Task, tag: str, seconds: float = 30.0) -> str:
    """Wait, at safe points, until ``self.request.is_revoked()`` says so (or ``seconds``)."""
    await _note(f"until-revoked:{tag}")
    deadline = time.monotonic() + seconds
    while not self.request.is_revoked():
        if time.monotonic() > deadline:
            return "never revoked"
        await asyncio.sleep(0.02)
    return "noticed"


@runtime.task
def sync_sleepy(tag: str, seconds: float) -> str:
    """A plain ``def`` task taking ``seconds`` in its thread; counts starts and ends."""
    client = redis.Redis.from_url(runtime.conf.broker_url)
    try:
        client.incr(runs_key(runtime, f"sync-sleepy:{tag}"))
        time.sleep(seconds)
        client.incr(runs_key(runtime, f"sync-sleepy-done:{tag}"))
    finally:
        client.close()
    return tag


def order_key(rt: Runtime, tag: str) -> str:
    """Key listing the starts of ``in_order`` tagged ``tag``, in the order they started."""
    return f"{rt.keys.prefix}:test:order:{tag}"


@runtime.task(bind=True)
async def in_order(
    self: Task, tag: str, label: str, retries: int = 0, *, hold: bool = False
) -> str:
    """Record ``LABEL:PRIORITY:RETRIES`` as it starts (the priority of the stream it came
    from); with ``hold``, wait until ``release_order(tag)``; then retry until it has been
    retried ``retries`` times."""
    priority = self.request.delivery_info.get("priority")
    entry = f"{label}:{priority}:{self.request.retries}"
    client = runtime.broker.client
    await client.rpush(order_key(runtime, tag), entry)
    if hold:
        await client.blpop([f"{order_key(runtime, tag)}:release"], timeout=60)
    if self.request.retries < retries:
        raise self.retry(countdown=0.05)
    return label


async def release_order(rt: Runtime, tag: str) -> None:
    """Let the ``in_order(..., hold=True)`` task of ``tag`` finish."""
    await rt.broker.client.rpush(f"{order_key(rt, tag)}:release", 1)


@runtime.task(priority=7)
async def low_priority(tag: str) -> str:
    """A task whose own priority is 7."""
    await _note(f"low:{tag}")
    return tag
