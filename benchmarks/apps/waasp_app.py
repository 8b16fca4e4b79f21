"""The waasp.runtime app (``-A benchmarks.apps.waasp_app:runtime``)."""

from __future__ import annotations

import asyncio

from benchmarks import probe
from benchmarks.apps import env
from waasp.runtime import Runtime


def build(url: str, prefix: str) -> Runtime:
    """A Runtime on ``url`` (results in its db 1, the default) under ``prefix``."""
    app = Runtime("waasp", broker_url=url, key_prefix=prefix)
    app.conf.update(
        task_track_started=True, result_expires=env.RESULT_TTL, worker_prefetch_multiplier=4
    )

    @app.task(name="bench.noop")
    async def noop() -> None:
        probe.done()

    @app.task(name="bench.late")
    async def late(sent_at: float, due_at: float | None = None) -> None:
        probe.late(sent_at, due_at)

    @app.task(name="bench.sleep1")
    async def sleep1() -> None:
        probe.started()
        await asyncio.sleep(1)
        probe.done()

    return app


runtime = build(env.URL, env.PREFIX)
