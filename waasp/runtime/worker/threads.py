"""The threads that run plain ``def`` tasks.

A thread cannot be stopped from outside. When a sync task overruns its hard time limit the
worker stops waiting for it and abandons its thread: the call's result is discarded whenever
it ends, and a new thread takes the slot, so a stuck task never shrinks the pool. Threads
are started when no idle one is left, never waited for, so waiting for a thread does not
count toward a time limit. They are daemon threads: an abandoned one cannot hold the process
after the worker has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("waasp.runtime.worker.threads")


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a call returned, or the exception it raised (any BaseException)."""

    value: Any = None
    error: BaseException | None = None


class ThreadCall:
    """One call of a sync task in a thread, seen from the event loop."""

    def __init__(self, fn: Callable[[], Any], name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.name = name
        self.loop = loop
        self.started: asyncio.Future[float] = loop.create_future()  # monotonic start time
        self.done: asyncio.Future[CallOutcome] = loop.create_future()
        self.abandoned = False
        self.finished = False  # set by the thread, under the pool's lock

    @property
    def running(self) -> bool:
        """Tell whether the thread is still in the call."""
        return not self.done.done()

    def run(self) -> CallOutcome:
        """Run the call (in the thread), telling the loop when it starts."""
        self.tell(self.started, time.monotonic())
        try:
            return CallOutcome(self.fn())
        except BaseException as exc:  # the task's to report, whatever it is
            return CallOutcome(error=exc)

    def tell(self, future: asyncio.Future[Any], value: Any) -> None:
        """Resolve one of this call's futures from the thread."""

        def resolve() -> None:
            if not future.done():
                future.set_result(value)

        # The loop is closed when the worker has finished without waiting for this call.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(resolve)


class TaskThreads:
    """A pool of ``size`` reusable threads that grows past ``size`` only while abandoned
    calls still hold threads."""

    def __init__(self, size: int, prefix: str = "waasp-task") -> None:
        self.size = size
        self.prefix = prefix
        self._calls: queue.SimpleQueue[ThreadCall | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._started = 0
        self.stuck = 0  # abandoned calls still running

    def submit(self, fn: Callable[[], Any], name: str) -> ThreadCall:
        """Start ``fn`` in an idle thread, or in a new one if none is idle."""
        call = ThreadCall(fn, name, asyncio.get_running_loop())
        with self._lock:
            spawn = self._idle == 0
            if spawn:
                self._threads += 1
                self._started += 1
                number = self._started
            else:
                self._idle -= 1
        if spawn:
            thread = threading.Thread(
                target=self._serve, name=f"{self.prefix}-{number}", daemon=True
            )
            thread.start()
        self._calls.put(call)
        return call

    def abandon(self, call: ThreadCall) -> None:
        """Stop waiting for ``call``: its thread is left to finish alone, its result dropped."""
        with self._lock:
            if call.abandoned or call.finished:
                return
            call.abandoned = True
            self.stuck += 1
            stuck = self.stuck
        log.error("task_thread_abandoned", thread_task=call.name, stuck_threads=stuck)

    def shutdown(self) -> None:
        """Let idle threads end; busy ones end after their call."""
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._calls.put(None)

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            outcome = call.run()
            with self._lock:
                call.finished = True
                if call.abandoned:
                    self.stuck -= 1
                stuck = self.stuck
                # A replacement took this thread's place while it was stuck: one too many.
                surplus = self._threads > self.size
                if surplus:
                    self._threads -= 1
                else:
                    self._idle += 1
            # Told once this thread counts as idle, so the executor's next call reuses it.
            call.tell(call.done, outcome)
            if call.abandoned:
                log.warning("abandoned_thread_finished", thread_task=call.name, stuck_threads=stuck)
            if surplus:
                return
