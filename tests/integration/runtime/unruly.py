"""Tasks that misbehave: they raise what tasks should not, overrun their time limits, block
the event loop or hold a thread past the shutdown timeout.

They register on the test app of ``apps`` (and count their executions the same way); worker
processes import this module with ``-A tests.integration.runtime.unruly:runtime``.
"""

from __future__ import annotations

import asyncio
import time

import redis

from tests.integration.runtime.apps import _note, runs_key, runtime
from waasp.runtime import SoftTimeLimitExceeded, Task, TimeLimitExceeded

__all__ = ["runtime"]


class Unprintable(Exception):
    """An exception whose ``__str__`` itself raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Escape(BaseException):
    """A custom BaseException, outside the Exception hierarchy."""


def _note_sync(tag: str) -> int:
    """``_note`` from a thread of the worker's pool."""
    client = redis.Redis.from_url(runtime.conf.broker_url)
    try:
        return int(client.incr(runs_key(runtime, tag)))
    finally:
        client.close()


@runtime.task
async def cancelled_inside(tag: str) -> None:
    """Await a future another callback cancels: CancelledError from task code."""
    await _note(f"cancelled:{tag}")
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.cancel)
    await future


@runtime.task
async def raises_base_exception(tag: str) -> None:
    """Raise a custom BaseException."""
    await _note(f"base:{tag}")
    raise Escape(f"{tag} escaped")


@runtime.task
async def raises_unprintable(tag: str) -> None:
    """Raise an exception that cannot be rendered as text."""
    await _note(f"unprintable:{tag}")
    raise Unprintable


@runtime.task
def sync_raises_base_exception(tag: str) -> None:
    """Raise a custom BaseException from a pool thread."""
    _note_sync(f"sync-base:{tag}")
    raise Escape(f"{tag} escaped a thread")


@runtime.task(bind=True, autoretry_for=(Escape,), max_retries=3, default_retry_delay=0.05)
async def escapes_once(self: Task, tag: str) -> int:
    """Raise a custom BaseException on the first attempt; succeed on the next."""
    await _note(f"escapes:{tag}")
    if self.request.retries == 0:
        raise Escape("first attempt")
    return self.request.retries


@runtime.task(time_limit=0.3)
async def overruns(tag: str, seconds: float) -> str:
    """Sleep ``seconds`` under a 0.3 s hard limit."""
    await _note(f"overruns:{tag}")
    await asyncio.sleep(seconds)
    return tag


@runtime.task(
    bind=True,
    soft_time_limit=0.3,
    time_limit=0.8,
    autoretry_for=(SoftTimeLimitExceeded, TimeLimitExceeded),
    max_retries=3,
    default_retry_delay=0.05,
)
async def overruns_once(self: Task, tag: str, swallow_soft: bool) -> int:
    """Overrun the soft limit on the first attempt (and the hard one too, if it swallows the
    soft one); finish at once on the next."""
    await _note(f"overruns-once:{tag}")
    if self.request.retries == 0:
        try:
            await asyncio.sleep(10.0)
        except SoftTimeLimitExceeded:
            if not swallow_soft:
                raise
            await asyncio.sleep(10.0)
    return self.request.retries


@runtime.task(soft_time_limit=0.3, time_limit=10.0)
async def cleans_up(tag: str) -> str:
    """Catch the soft limit inside the task, clean up (awaiting), and return."""
    await _note(f"cleans-up:{tag}")
    try:
        await asyncio.sleep(10.0)
    except SoftTimeLimitExceeded:
        await asyncio.sleep(0.05)  # the task may still await while it cleans up
        return "cleaned up"
    return "slept"


def _hold_thread(counter: str, tag: str, seconds: float) -> str:
    """Count the start and the end of a call that holds its thread for ``seconds``."""
    _note_sync(f"{counter}:{tag}")
    time.sleep(seconds)
    _note_sync(f"{counter}-done:{tag}")
    return tag


@runtime.task(soft_time_limit=0.3)
def sync_soft_overrun(tag: str, seconds: float) -> str:
    """A thread that runs past its soft limit and then returns: its result is discarded."""
    return _hold_thread("sync-soft", tag, seconds)


@runtime.task(time_limit=0.5)
def sync_stuck(tag: str, seconds: float) -> str:
    """A thread stuck far past its hard limit."""
    return _hold_thread("stuck", tag, seconds)


@runtime.task(time_limit=2.0)
def sync_quick(tag: str) -> str:
    """A short sync task under a hard limit."""
    return _hold_thread("quick", tag, 0.05)


@runtime.task
def sync_sleeps(tag: str, seconds: float) -> str:
    """A sync task that holds its thread for ``seconds``."""
    return _hold_thread("sync-sleeps", tag, seconds)


@runtime.task
async def blocks_loop(tag: str, seconds: float) -> str:
    """Block the worker's event loop with a sync call inside an ``async def`` task."""
    await _note(f"blocks:{tag}")
    time.sleep(seconds)  # the mistake this task exists to make
    return tag
