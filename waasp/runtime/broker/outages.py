"""Redis outages as one process's loops meet them: retried, and logged once each way.

Every loop that talks to Redis (a worker's reader, settler, lease keeper, heartbeat and
promoter; the scheduler; the result listener) takes a ``LoopGuard`` from its process's
``Outages``. After a failed round the guard classifies the error, backs off, and raises
``RedisRefused`` for a programming error; after a good round it notes the loop recovered.
The first loop to fail logs ``redis_unavailable``; once every loop that failed has worked
again and nothing failed for ``RECOVERY_QUIET`` seconds, ``redis_recovered`` is logged: one
line each way per outage, not one per attempt.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import structlog

from waasp.runtime.backoff import Backoff
from waasp.runtime.broker.errors import (
    Fault,
    RedisRefused,
    check_cancelled,
    classify,
    describe,
)

log = structlog.get_logger("waasp.runtime.broker.outages")

# How long every loop must have worked before an outage counts as over, so that loops
# meeting the same outage a moment apart do not log it twice.
RECOVERY_QUIET = 1.0


class Outages:
    """The Redis trouble of one process (a worker, a scheduler, a result listener).

    ``reconnect`` drops the pooled connections of the process's clients: after a failover
    they may still lead to the old master, now a replica that answers READONLY.
    ``context`` is bound to both log lines (e.g. ``worker=<name>``).
    """

    def __init__(
        self, reconnect: Sequence[Callable[[], Awaitable[None]]] = (), **context: Any
    ) -> None:
        self._reconnect = list(reconnect)
        self._context = context
        self._failing: dict[str, Fault] = {}
        self._began = 0.0
        self._quiet_since: float | None = None  # every loop has worked again since then

    @property
    def down(self) -> bool:
        """Whether an outage is under way (not yet logged as over)."""
        return bool(self._failing) or self._quiet_since is not None

    def guard(self, loop: str) -> LoopGuard:
        """A guard for the loop named ``loop``."""
        return LoopGuard(self, loop)

    def failed(self, loop: str, exc: BaseException, fault: Fault) -> None:
        """Note that ``loop`` met ``fault``; log it if it begins an outage."""
        if not self.down:
            self._began = time.monotonic()
            log.warning(
                "redis_unavailable",
                loop=loop,
                reason=fault.value,
                error=describe(exc),
                **self._context,
            )
        else:
            log.debug("redis_still_unavailable", loop=loop, error=describe(exc), **self._context)
        self._failing[loop] = fault
        self._quiet_since = None

    def worked(self, loop: str) -> None:
        """Note that ``loop`` worked; log the end of the outage once it is over."""
        now = time.monotonic()
        if self._failing.pop(loop, None) is not None and not self._failing:
            self._quiet_since = now
        if self._quiet_since is not None and now - self._quiet_since >= RECOVERY_QUIET:
            self._quiet_since = None
            log.info("redis_recovered", down_s=round(now - self._began, 1), **self._context)

    async def reconnect(self) -> None:
        """Drop the idle pooled connections of every client, so each reconnects."""
        for drop in self._reconnect:
            await drop()


class LoopGuard:
    """One loop's side of ``Outages``: call ``failed`` after a round that raised a Redis
    error, ``worked`` after each round that did not."""

    def __init__(self, outages: Outages, loop: str) -> None:
        self.outages = outages
        self.loop = loop
        self.backoff = Backoff()

    async def failed(self, exc: BaseException) -> Fault:
        """Back off after ``exc`` and return its fault, or raise RedisRefused if waiting
        cannot cure it. A missing group is the caller's to recreate: not an outage."""
        check_cancelled()
        fault = classify(exc)
        if fault is Fault.BUG:
            raise RedisRefused(f"{self.loop}: Redis refused: {describe(exc)}") from exc
        if fault is Fault.GROUP_MISSING:
            log.debug("redis_group_missing", loop=self.loop, error=describe(exc))
        else:
            self.outages.failed(self.loop, exc, fault)
        if fault is Fault.REPLICA:
            await self.outages.reconnect()
        await self.backoff.sleep()
        return fault

    def worked(self) -> None:
        """Note a good round; raise CancelledError if the loop is being cancelled (a command
        can swallow its cancellation, see ``check_cancelled``)."""
        check_cancelled()
        self.backoff.reset()
        self.outages.worked(self.loop)


@contextlib.asynccontextmanager
async def refused_alone() -> AsyncIterator[None]:
    """Around a TaskGroup: raise a loop's RedisRefused by itself, not inside the group's
    ExceptionGroup, so that the process stops with that one line."""
    try:
        yield
    except BaseExceptionGroup as errors:
        refused = _first_refusal(errors)
        if refused is None:
            raise
        raise refused from refused.__cause__


def _first_refusal(error: BaseException) -> RedisRefused | None:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _first_refusal(inner)) is not None:
                return found
    return error if isinstance(error, RedisRefused) else None
