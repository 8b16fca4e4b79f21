"""Progress from inside a task: ``self.update_state(state="PROGRESS", meta={...})``.

``update_state`` is a plain (not async) method, so ``async def`` and ``def`` tasks call it
alike. It encodes the record at once (a meta JSON cannot hold raises ``EncodeError`` in the
task) and hands it to the worker's settler, which writes it in its next flush, as it writes
STARTED: on the event loop's thread directly, from a task's thread through
``call_soon_threadsafe``. The record carries the delivery that wrote it, so the result
backend's rule holds (an earlier delivery never replaces a later one's record); a final
record queued in the same flush replaces it; and once the task has ended (a ``def`` task
abandoned at its hard time limit may run on) its updates are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog

from waasp.runtime.message import TaskMeta, encode_meta
from waasp.runtime.states import READY_STATES, TaskState, state_of

log = structlog.get_logger("waasp.runtime.progress")


@dataclasses.dataclass(slots=True)
class ProgressSink:
    """Where the running delivery's ``update_state`` records go."""

    task_id: str
    # The delivery's STARTED record (id, name, queue, worker, entry, start), built on the first
    # update only: most tasks never call update_state, and the sink is on the hot path.
    started: Callable[[], TaskMeta]
    put: Callable[[TaskMeta], None]  # the settler's, called on the loop's thread only
    loop: asyncio.AbstractEventLoop
    open: bool = True

    def update(self, state: str, meta: Any) -> None:
        """Queue ``state`` with ``meta`` as the task's record (from any thread)."""
        record = dataclasses.replace(self.started(), state=state_of(state), result=meta)
        encode_meta(record)  # EncodeError here, in the task that passed the meta
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(record)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: the task ended long ago
                self.loop.call_soon_threadsafe(self._put, record)

    def close(self) -> None:
        """The task ended: drop any later update (on the loop's thread)."""
        self.open = False

    def _put(self, record: TaskMeta) -> None:
        if self.open:
            self.put(record)


_current_sink: ContextVar[ProgressSink | None] = ContextVar("waasp_runtime_progress", default=None)


def set_sink(sink: ProgressSink) -> object:
    """Make ``sink`` the current delivery's; return a token for ``reset_sink``."""
    return _current_sink.set(sink)


def reset_sink(token: object) -> None:
    """Restore the sink that was current before ``set_sink``."""
    _current_sink.reset(token)  # type: ignore[arg-type]  # token from set_sink


def update_state(task_id: str | None, state: str | TaskState, meta: Any) -> None:
    """Record a state of the running task (``Task.update_state``)."""
    name = str(state)
    if not name or state_of(name) in READY_STATES:
        raise ValueError(f"update_state cannot set {name!r}: return or raise to end a task")
    sink = _current_sink.get()
    if sink is None:
        log.debug("update_state_ignored", reason="not_running_on_a_worker", state=name)
        return
    if task_id is not None and task_id != sink.task_id:
        raise ValueError("update_state sets the running task's own state only")
    sink.update(name, meta)
