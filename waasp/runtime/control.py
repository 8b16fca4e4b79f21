"""``runtime.control``: operator controls that reach every worker through Redis.

Pausing a queue keeps its tasks waiting (sends, and delayed tasks that fall due, still land in
its stream); every worker stops reading it within a second, and resumes as quickly. The pause
is kept in Redis, so it outlives restarts of workers and of the process that paused it.
"""

from __future__ import annotations

import structlog

from waasp.runtime.broker import Broker
from waasp.runtime.keys import check_queue_name

log = structlog.get_logger("waasp.runtime.control")


class Control:
    """Controls of one runtime: ``pause``, ``resume``, ``paused``."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def pause(self, queue: str) -> bool:
        """Pause ``queue`` for every worker; False if it was paused already.
        ConfigurationError (a ValueError) for an invalid queue name."""
        changed = await self.broker.pauses.pause(check_queue_name(queue))
        log.info("queue_paused", queue=queue, changed=changed)
        return changed

    async def resume(self, queue: str) -> bool:
        """Resume ``queue``; False if it was not paused."""
        changed = await self.broker.pauses.resume(check_queue_name(queue))
        log.info("queue_resumed", queue=queue, changed=changed)
        return changed

    async def paused(self) -> list[str]:
        """The paused queues, sorted."""
        return sorted(await self.broker.pauses.paused())
