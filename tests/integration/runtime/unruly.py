"""Tasks that misbehave: they raise what tasks should not.

They register on the test app of ``apps`` (and count their executions the same way); worker
processes import this module with ``-A tests.integration.runtime.unruly:runtime``.
"""

from __future__ import annotations

import asyncio

import redis

from tests.integration.runtime.apps import _note, runs_key, runtime
from waasp.runtime import Task

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
