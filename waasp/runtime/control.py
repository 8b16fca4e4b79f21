"""``runtime.control``: operator controls that reach every worker through Redis.

Celery broadcasts its controls to the workers alive at the time and keeps revokes in their
memory; here a revoke is written to Redis (``broker/revokes.py``) and lives as long as the
task's result would (``result_expires``), so a worker that starts later, or restarts, honours
it too. Pausing a queue keeps its tasks waiting (sends, and delayed tasks that fall due, still
land in its stream); every worker stops reading it within a second, and resumes as quickly. The
pause is kept in Redis, so it outlives restarts of workers and of the process that paused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from waasp.runtime.broker import Broker, ResultBackend
from waasp.runtime.keys import check_queue_name
from waasp.runtime.message import REVOKED_ERROR, REVOKED_REASON, RemoteError
from waasp.runtime.states import READY_STATES, RETRY, STARTED, TaskState

log = structlog.get_logger("waasp.runtime.control")

TASK_ID_MAX = 255


def check_task_id(task_id: object) -> str:
    """``task_id`` if it can be a task id: 1-255 printable characters; else TypeError or
    ValueError."""
    if not isinstance(task_id, str):
        raise TypeError(f"a task id is a string, not {type(task_id).__name__}")
    if not 0 < len(task_id) <= TASK_ID_MAX or not task_id.isprintable():
        raise ValueError(f"invalid task id {task_id!r}: use 1-{TASK_ID_MAX} printable characters")
    return task_id


@dataclass(frozen=True, slots=True)
class RevokeReport:
    """What ``revoke`` did. ``previous`` is the state the task's record had (None: there was
    no record: the task waits in a queue without one, or its record expired, or the id was
    never sent; the revoke is remembered all the same, as Celery does)."""

    task_id: str
    terminate: bool
    previous: TaskState | None

    @property
    def note(self) -> str:
        """One line on what happens to the task now."""
        if self.previous is None:
            return (
                "no record of this task: if it waits in a queue it will not run "
                "(an id never sent is remembered as revoked until result_expires)"
            )
        if self.previous in READY_STATES:
            return f"already finished ({self.previous.value}): nothing to stop"
        if self.previous is STARTED:
            if self.terminate:
                return "running: an async task is cancelled, a sync task's result discarded"
            return "running: it runs to its end (revoke with terminate to stop it)"
        if self.previous is RETRY:
            return "waiting for a retry: it will not run again"
        return "revoked: it will not run"

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the command line and the HTTP API answer with."""
        return {
            "id": self.task_id,
            "revoked": True,
            "terminate": self.terminate,
            "known": self.previous is not None,
            "previous_state": None if self.previous is None else self.previous.value,
            "note": self.note,
        }


class Control:
    """Remote control of tasks and queues: ``revoke``, ``pause``, ``resume``, ``paused``."""

    def __init__(self, broker: Broker, results: ResultBackend, result_expires: float) -> None:
        self.broker = broker
        self.results = results
        self.ttl_ms = max(int(result_expires * 1000), 1)  # a revoke lives as long as a result

    async def revoke(self, task_id: str, terminate: bool = False) -> RevokeReport:
        """Revoke a task: if it has not started it never will (wherever it waits); with
        ``terminate``, a running ``async def`` task is cancelled too, and a running sync task
        (a thread cannot be interrupted) runs on with its result discarded. Either way it ends
        REVOKED, and ``get()`` raises TaskRevoked. A task already finished keeps its outcome."""
        check_task_id(task_id)
        if not isinstance(terminate, bool):
            raise TypeError(f"terminate must be True or False, not {terminate!r}")
        # The mark first: from here on no worker starts the task; then its record, unless it
        # finished meanwhile or runs (its worker records how it ends).
        await self.broker.revokes.add(task_id, terminate=terminate, ttl_ms=self.ttl_ms)
        keep = {*READY_STATES, STARTED}
        error = RemoteError(REVOKED_ERROR, REVOKED_REASON)
        previous = await self.results.mark_revoked(task_id, error, keep)
        return RevokeReport(task_id, terminate, previous)

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
