"""Tasks under shared limits: a rate limit and concurrency caps.

They register on the test app of ``apps``; worker processes import this module with
``-A tests.integration.runtime.limited:runtime``. Each keeps its ledger in Redis under the key
prefix, so a test sees every execution in every process.
"""

from __future__ import annotations

import asyncio

from tests.integration.runtime.apps import _note, runtime
from waasp.runtime import Task

__all__ = ["runtime"]


def ledger_key(name: str) -> str:
    """Key of a ledger of the capped tasks (under the runtime's current prefix)."""
    return f"{runtime.keys.prefix}:test:ledger:{name}"


@runtime.task(rate_limit="20/s")
async def rated(i: int) -> int:
    """Record the start (``runs``/``start_times`` of ``rated``) and return ``i``."""
    await _note("rated")
    return i


@runtime.task(max_concurrency=2)
async def capped(seconds: float) -> int:
    """Count itself in the ``running`` ledger for ``seconds``; the ledger's ``peaks`` list
    holds the count each start saw (its maximum is the most that ever ran at once)."""
    client = runtime.broker.client
    now = await client.incr(ledger_key("running"))
    await client.rpush(ledger_key("peaks"), now)
    try:
        await asyncio.sleep(seconds)
    finally:
        await client.decr(ledger_key("running"))
    return int(now)


@runtime.task(max_concurrency=1)
async def single(seconds: float) -> int:
    """Sleep ``seconds`` on its first execution only (a rerun returns at once)."""
    count = await _note("single")
    if count == 1:
        await asyncio.sleep(seconds)
    return count


@runtime.task(bind=True, max_concurrency=5, max_retries=1)
async def capped_outcome(self: Task, kind: str) -> str:
    """End as ``kind`` says: ``ok``, ``fail`` (FAILURE and a dead letter), ``retry`` (once,
    then ok) or ``reject`` (dead-lettered by hand)."""
    await _note(f"outcome:{kind}")
    if kind == "fail":
        raise ValueError("failed on purpose")
    if kind == "retry" and self.request.retries == 0:
        raise self.retry(countdown=0)
    if kind == "reject":
        raise self.send_to_dlq("rejected on purpose")
    return kind


@runtime.task(bind=True, rate_limit="2/s", max_retries=1)
async def rated_retry(self: Task, tag: str) -> int:
    """Record the start under ``tag``; retry at once on the first attempt."""
    await _note(tag)
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return self.request.retries


TASKS: tuple[Task, ...] = (rated, capped, single, capped_outcome, rated_retry)
