"""Reading the task events back: recent events and failures, counters, run times,
throughput (written by the workers' ``EventRecorder``). Each read costs O(task names +
buckets + the page asked for), never O(tasks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waasp.runtime.broker import TaskCounters
from waasp.runtime.monitor.views import event_dict, throughput_dict

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime


async def recent_events(runtime: Runtime, limit: int = 100) -> list[dict[str, Any]]:
    """The newest ``limit`` events, newest first; each has its server ``time`` (ISO, UTC)."""
    return [event_dict(event) for event in await runtime.broker.events.recent(limit)]


async def recent_failures(runtime: Runtime, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` failures and dead letters, with their tracebacks."""
    return [event_dict(event) for event in await runtime.broker.events.failures(limit)]


async def task_counters(runtime: Runtime) -> TaskCounters:
    """Tasks per name and event, and run-time histograms per name (one round trip)."""
    return await runtime.broker.events.counters()


async def throughput(runtime: Runtime, minutes: int = 10) -> dict[str, Any]:
    """Finished deliveries per event kind in each bucket of the last ``minutes``, oldest
    first, by the Redis server's clock."""
    return throughput_dict(await runtime.broker.events.throughput(minutes))
