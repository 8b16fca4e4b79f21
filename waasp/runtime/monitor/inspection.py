"""What is queued, delayed, in flight and dead, and who is working: O(queues + workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waasp.runtime.broker import QueueStats
from waasp.runtime.monitor.views import dead_letter_dict, worker_dict

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime


async def queue_stats(runtime: Runtime, queues: list[str] | None = None) -> list[QueueStats]:
    """Counts for each known queue (or the given ones), from a constant number of commands."""
    return await runtime.broker.queue_stats(queues or await runtime.broker.known_queues())


async def workers(runtime: Runtime) -> list[dict[str, Any]]:
    """Live workers (heartbeat not expired), with their figures."""
    return [worker_dict(info) for info in await runtime.broker.workers.live()]


async def dead_letter_page(
    runtime: Runtime, queue: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of dead letters, newest first across queues, and their total: one round trip
    for the known queues, reading at most ``offset + limit`` entries per queue."""
    page = await runtime.dlq.page(queue, limit, offset)
    return {
        "dead_letters": [dead_letter_dict(x) for x in page.letters],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }
