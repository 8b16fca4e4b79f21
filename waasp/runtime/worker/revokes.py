"""The revoke watch: learns, while tasks run, which of them were revoked.

Every ``REVOKE_POLL`` seconds, and only while this worker runs tasks, it reads the revoke
marks of the running task ids (one round trip). A revoked task is marked, so that
``self.request.is_revoked()`` says so; one revoked with ``terminate=True`` is stopped: an
``async def`` task is cancelled where it awaits, a sync task's thread cannot be interrupted,
so it runs on and its result is discarded. Either way it ends REVOKED, acknowledged, neither
retried nor dead-lettered. (Tasks that have not started are stopped by the start gate.)
A short poll rather than a pub/sub channel: nothing is missed across a Redis outage, and an
idle worker sends nothing.
"""

from __future__ import annotations

import asyncio

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, Outages, RevokeMark
from waasp.runtime.worker.executor import Executor

log = structlog.get_logger("waasp.runtime.worker.revokes")

REVOKE_POLL = 0.5


class RevokeWatch:
    """Marks and stops the running tasks revoked since they started."""

    def __init__(
        self,
        broker: Broker,
        executor: Executor,
        *,
        outages: Outages | None = None,
        interval: float = REVOKE_POLL,
    ) -> None:
        self.broker = broker
        self.executor = executor
        self.interval = interval
        self.guard = (outages or Outages()).guard("revokes")

    async def run(self) -> None:
        """Look every ``interval`` seconds while tasks run, until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            running = [(e, r) for e, r in self.executor.running.items() if not r.terminate]
            if not running:
                continue
            try:
                marks = await self.broker.revokes.marks([r.task_id for _, r in running])
            except ANY_REDIS_ERROR as exc:
                log.debug("revoke_poll_failed", error=str(exc))
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            for (executor, run), mark in zip(running, marks, strict=True):
                if mark is RevokeMark.NONE:
                    continue
                if not run.revoked:
                    log.info("running_task_revoked", task_id=run.task_id, task=run.task)
                run.revoked = True
                if mark is RevokeMark.TERMINATE:
                    self.executor.terminate(executor, run)
