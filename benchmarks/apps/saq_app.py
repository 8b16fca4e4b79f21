"""The saq settings (``saq benchmarks.apps.saq_app.settings``); runs in the redis<6 venv."""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from benchmarks import probe
from benchmarks.apps import env


async def noop(ctx: Any) -> None:
    probe.done()


async def late(ctx: Any, *, sent_at: float, due_at: float | None = None) -> None:
    probe.late(sent_at, due_at)


async def sleep1(ctx: Any) -> None:
    probe.started()
    await asyncio.sleep(1)
    probe.done()


def queue(url: str, prefix: str) -> Any:
    """A saq Queue whose name carries ``prefix`` (its keys are saq:...:<name>...)."""
    return Queue.from_url(url, name=prefix)


settings = {
    "queue": queue(env.URL, env.PREFIX),
    "functions": [noop, late, sleep1],
    "concurrency": env.CONCURRENCY,
}
