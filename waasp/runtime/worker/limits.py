"""Time limits of a running task.

An async task gets ``SoftTimeLimitExceeded`` raised inside it at its soft limit, where it is
awaiting, so it can catch it and clean up (awaiting as it likes). At its hard limit it is
cancelled, and it fails with ``TimeLimitExceeded`` whatever it does; a task that swallows the
cancellation is not resumed again.

A sync task's thread cannot be interrupted. Past its soft limit it is marked, and when it
returns its result is discarded and it fails with ``SoftTimeLimitExceeded``. At its hard limit
the worker stops waiting, fails it with ``TimeLimitExceeded`` and abandons the thread to
``TaskThreads``, which puts another in its place. The clock of a sync task starts when its
thread starts the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any

import structlog

from waasp.runtime.errors import SoftTimeLimitExceeded, TimeLimitExceeded
from waasp.runtime.worker.threads import TaskThreads, ThreadCall

log = structlog.get_logger("waasp.runtime.worker.limits")


@dataclass(frozen=True, slots=True)
class Limits:
    """A task's soft and hard time limits in seconds (None: no limit)."""

    task: str
    soft: float | None = None
    hard: float | None = None

    @property
    def any(self) -> bool:
        """Tell whether either limit is set."""
        return self.soft is not None or self.hard is not None

    @property
    def soft_applies(self) -> bool:
        """Tell whether the soft limit comes before the hard one."""
        return self.soft is not None and (self.hard is None or self.soft < self.hard)

    def soft_error(self, detail: str = "") -> SoftTimeLimitExceeded:
        """The error of a task past its soft limit."""
        return SoftTimeLimitExceeded(
            f"{self.task} exceeded its soft time limit of {self.soft}s{detail}"
        )

    def hard_error(self) -> TimeLimitExceeded:
        """The error of a task past its hard limit."""
        return TimeLimitExceeded(f"{self.task} exceeded its time limit of {self.hard}s")


def own_cancellation() -> bool:
    """Tell whether the running asyncio task (the executor) has been asked to stop, as
    opposed to task code raising CancelledError on its own."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


class _Alarm:
    """Cancels the running asyncio task at each limit, and tells that cancellation apart
    from any other."""

    def __init__(self, limits: Limits) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("time limits apply inside an asyncio task")
        self.task = task
        self.limits = limits
        self.requested = 0  # cancellations this alarm requested and not yet delivered
        self.pending_hard = False
        self.hard_hit = False
        loop = asyncio.get_running_loop()
        self.handles: list[asyncio.TimerHandle] = []
        if limits.soft is not None and limits.soft_applies:
            self.handles.append(loop.call_later(limits.soft, self._fire, False))
        if limits.hard is not None:
            self.handles.append(loop.call_later(limits.hard, self._fire, True))

    def _fire(self, hard: bool) -> None:
        self.requested += 1
        self.pending_hard = self.pending_hard or hard
        self.task.cancel()

    def translate(self, exc: BaseException) -> BaseException:
        """What to throw into the task in place of ``exc``, thrown at the executor."""
        if not self.requested or not isinstance(exc, asyncio.CancelledError):
            return exc
        for _ in range(self.requested):
            self.task.uncancel()
        self.requested = 0
        hard, self.pending_hard = self.pending_hard, False
        if self.task.cancelling():
            return exc  # the executor itself is cancelled too (shutdown): that wins
        if hard:
            self.hard_hit = True
            return exc
        log.warning("task_soft_time_limit_exceeded", seconds=self.limits.soft)
        return self.limits.soft_error()

    def check(self, cause: BaseException | None = None) -> None:
        """Raise TimeLimitExceeded if the hard limit stopped the task."""
        if self.hard_hit:
            log.warning("task_time_limit_exceeded", seconds=self.limits.hard)
            raise self.limits.hard_error() from cause

    def close(self) -> None:
        """Disarm."""
        for handle in self.handles:
            handle.cancel()


class _Driven:
    """Awaits a coroutine step by step, throwing the alarm's errors into it in place of the
    cancellations that carry them."""

    def __init__(self, coro: Coroutine[Any, Any, Any], alarm: _Alarm) -> None:
        self.coro = coro
        self.alarm = alarm

    def __await__(self) -> Generator[Any, None, Any]:
        coro, alarm = self.coro, self.alarm
        error: BaseException | None = None
        while True:
            try:
                step = coro.send(None) if error is None else coro.throw(error)
            except StopIteration as stop:
                alarm.check()
                return stop.value
            except BaseException as exc:
                alarm.check(exc)
                raise
            if alarm.hard_hit:
                # It swallowed the cancellation at its hard limit and awaits on: stop it here.
                with contextlib.suppress(RuntimeError):  # a coroutine that ignores the close
                    coro.close()
                alarm.check()
            try:
                yield step
                error = None
            except BaseException as exc:  # whatever the loop throws in goes on to the task
                error = alarm.translate(exc)


async def run_async(coro: Coroutine[Any, Any, Any], limits: Limits) -> Any:
    """Await an async task's coroutine under its limits."""
    if not limits.any:
        return await coro
    alarm = _Alarm(limits)
    try:
        return await _Driven(coro, alarm)
    finally:
        alarm.close()


async def _ends_by(call: ThreadCall, deadline: float | None) -> bool:
    # asyncio.wait leaves the future alone when it times out or is cancelled: only the
    # thread resolves it.
    timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    done, _ = await asyncio.wait({call.done}, timeout=timeout)
    return bool(done)


async def wait_thread(call: ThreadCall, threads: TaskThreads, limits: Limits) -> Any:
    """Wait for a sync task's call under its limits; return its value or raise its error."""
    started = await asyncio.shield(call.started)
    marked = False
    if (
        limits.soft is not None
        and limits.soft_applies
        and not await _ends_by(call, started + limits.soft)
    ):
        marked = True
        log.warning("task_soft_time_limit_exceeded", seconds=limits.soft, thread=True)
    if not await _ends_by(call, None if limits.hard is None else started + limits.hard):
        log.warning("task_time_limit_exceeded", seconds=limits.hard, thread=True)
        threads.abandon(call)
        raise limits.hard_error()
    outcome = call.done.result()
    if marked:
        raise limits.soft_error(" (a thread cannot be interrupted: its result is discarded)")
    if outcome.error is not None:
        raise outcome.error
    return outcome.value
