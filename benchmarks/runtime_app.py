"""The Runtime the runtime benchmarks drive (imported by worker processes via ``-A``)."""

from __future__ import annotations

import os
import time

from waasp.runtime import Runtime

runtime = Runtime("waasp", key_prefix=os.environ.get("WAASP_KEY_PREFIX") or "bench")
runtime.conf.update(task_track_started=True, result_expires=3600, worker_prefetch_multiplier=4)


@runtime.task(name="bench.noop")
async def noop() -> None:
    """Do nothing (throughput scenarios)."""


@runtime.task(name="bench.record_latency")
async def record_latency(sent_at: float, due_at: float | None = None) -> None:
    """Record how late this task started (against its enqueue or due time)."""
    late = time.time() - (due_at if due_at is not None else sent_at)
    await runtime.broker.client.rpush(f"{runtime.conf.key_prefix}:bench:latency", late)
