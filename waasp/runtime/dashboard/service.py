"""The monitoring service behind the dashboard, /metrics and the inspect endpoints.

Every figure comes from Redis through the runtime (so a process that runs no task sees the
whole cluster, and nothing is lost on restart), and every call costs O(queues + workers + the
page asked for), never O(tasks). The JSON builders are ``waasp.runtime.monitor``'s, shared
with ``python -m waasp.runtime inspect``, so the CLI and the dashboard never disagree. Its
errors are ``HttpError``s (400, 404, 409, 503), answered as JSON by the error middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from waasp.runtime import (
    REDIS_ERRORS,
    DeadLetterNotFound,
    Runtime,
    TaskRuntimeError,
    check_task_id,
    parse_entry_id,
)
from waasp.runtime import monitor as runtime_events
from waasp.runtime.dashboard.errors import HttpError, invalid
from waasp.runtime.monitor import (
    QueueStats,
    dead_letter_page,
    queue_contents,
    queue_stats,
    schedule_status,
    task_detail,
    workers,
)

T = TypeVar("T")
log = structlog.get_logger(__name__)

# The runtime's Redis clients have no read timeout of their own (see waasp.runtime.app.connect):
# a monitoring call that gets no answer within this many seconds is a 503.
REDIS_TIMEOUT = 3.0
UNREACHABLE = "Redis is unreachable"
_DOWN: tuple[type[BaseException], ...] = (TimeoutError, *REDIS_ERRORS)


def _check_dead_id(dead_id: str) -> None:
    """A malformed dead-letter id is the client's mistake (400), not a missing letter."""
    queue, colon, entry_id = dead_id.rpartition(":")
    if not (colon and queue and parse_entry_id(entry_id)):
        raise invalid("dead_id", "must be QUEUE:MS-SEQ (ASCII digits, each part within 64 bits)")


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    """What /metrics reports of the runtime, read at scrape time."""

    queues: list[QueueStats]
    workers: int
    counters: runtime_events.TaskCounters


class MonitoringService:
    """Reads and acts on one runtime's queues, workers, dead letters, schedule and events."""

    def __init__(self, runtime: Runtime, timeout: float = REDIS_TIMEOUT) -> None:
        self.runtime = runtime
        self.timeout = timeout

    async def _redis(self, work: Awaitable[T]) -> T:
        """Await ``work``; Redis down, slow or gone is a 503 (the driver's words go to the
        log, not to the client)."""
        try:
            async with asyncio.timeout(self.timeout):
                return await work
        except _DOWN:
            log.warning("dependency_unavailable", dependency="redis", error=UNREACHABLE)
            raise HttpError(503, "redis unavailable", {"dependency": "redis"}) from None
        except DeadLetterNotFound as exc:
            raise HttpError(404, str(exc)) from None

    async def task(self, task_id: str) -> dict[str, Any]:
        """A task's record (PENDING when nothing is stored: unknown or expired), and its
        message (arguments, due time) while it waits, runs or sits in a dead-letter queue."""
        return await self._redis(task_detail(self.runtime, task_id))

    async def queues(self) -> list[dict[str, Any]]:
        """Each known queue's counts."""
        return [s.as_dict() for s in await self._redis(queue_stats(self.runtime))]

    async def queue_contents(self, queue: str, limit: int) -> dict[str, Any]:
        """The first waiting and next due delayed messages of ``queue``, with their totals."""
        try:
            return await self._redis(queue_contents(self.runtime, queue, limit))
        except TaskRuntimeError as exc:  # an invalid queue name
            raise invalid("name", str(exc)) from None

    async def workers(self) -> list[dict[str, Any]]:
        """The live workers."""
        return await self._redis(workers(self.runtime))

    async def dead_letters(self, queue: str | None, limit: int, offset: int) -> dict[str, Any]:
        """One page of dead letters, newest first, with the total."""
        try:
            return await self._redis(dead_letter_page(self.runtime, queue, limit, offset))
        except TaskRuntimeError as exc:  # an invalid queue name
            raise invalid("queue", str(exc)) from None

    async def replay(self, dead_id: str) -> str:
        """Put a dead letter back in its queue; return its task id."""
        _check_dead_id(dead_id)
        try:
            return await self._redis(self.runtime.dlq.replay(dead_id))
        except HttpError:
            raise
        except TaskRuntimeError as exc:  # it holds no decodable message
            raise HttpError(409, str(exc)) from None

    async def delete_dead_letter(self, dead_id: str) -> None:
        """Delete one dead letter."""
        _check_dead_id(dead_id)
        await self._redis(self.runtime.dlq.delete(dead_id))

    async def revoke(self, task_id: str, terminate: bool) -> dict[str, Any]:
        """Revoke a task (``runtime.control.revoke``) and report what happens to it."""
        try:
            check_task_id(task_id)
        except ValueError as exc:
            raise invalid("task_id", str(exc)) from None
        report = await self._redis(self.runtime.control.revoke(task_id, terminate=terminate))
        return report.as_dict()

    async def pause_queue(self, queue: str, paused: bool) -> dict[str, Any]:
        """Pause (or resume) ``queue`` for every worker; say whether that changed anything."""
        control = self.runtime.control
        try:
            changed = await self._redis(control.pause(queue) if paused else control.resume(queue))
        except TaskRuntimeError as exc:  # an invalid queue name
            raise invalid("name", str(exc)) from None
        return {"queue": queue, "paused": paused, "changed": changed}

    async def schedule(self) -> list[dict[str, Any]]:
        """The beat entries with their next and last runs."""
        return await self._redis(schedule_status(self.runtime))

    async def events(self, limit: int) -> list[dict[str, Any]]:
        """The newest task events."""
        return await self._redis(runtime_events.recent_events(self.runtime, limit))

    async def failures(self, limit: int) -> list[dict[str, Any]]:
        """The newest failures and dead letters, with tracebacks."""
        return await self._redis(runtime_events.recent_failures(self.runtime, limit))

    async def stats(self, minutes: int) -> dict[str, Any]:
        """Tasks per name and event, and the throughput of the last ``minutes``."""
        counters = await self._redis(runtime_events.task_counters(self.runtime))
        throughput = await self._redis(runtime_events.throughput(self.runtime, minutes))
        return {"tasks": counters.counts, "throughput": throughput}

    async def snapshot(self) -> RuntimeSnapshot | None:
        """The figures /metrics exports, or None when Redis cannot be reached."""
        try:
            queues = await self._redis(queue_stats(self.runtime))
            found = await self._redis(workers(self.runtime))
            counters = await self._redis(runtime_events.task_counters(self.runtime))
        except HttpError:  # a 503: Redis did not answer
            return None
        return RuntimeSnapshot(queues, len(found), counters)
