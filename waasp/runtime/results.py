"""``AsyncResult``: a handle on one task's state and result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from waasp.runtime.errors import TaskFailed
from waasp.runtime.message import TaskMeta
from waasp.runtime.states import EXCEPTION_STATES, READY_STATES, SUCCESS, TaskState

if TYPE_CHECKING:
    from waasp.runtime.broker.results import ResultBackend


class ResultSource(Protocol):
    """What an ``AsyncResult`` reads from: a runtime, whose result backend connects lazily."""

    @property
    def results(self) -> ResultBackend:
        """The result backend."""


class AsyncResult:
    """A handle on one task's state and result."""

    def __init__(self, task_id: str, runtime: ResultSource) -> None:
        self.id = task_id
        self._runtime = runtime

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    async def meta(self) -> TaskMeta:
        """The task's whole stored record."""
        return await self._runtime.results.get_meta(self.id)

    async def state(self) -> TaskState | str:
        """PENDING, STARTED, RETRY, SUCCESS or FAILURE, or a state the task set itself with
        ``update_state`` ("PROGRESS")."""
        return (await self.meta()).state

    async def ready(self) -> bool:
        """Tell whether the task has finished (SUCCESS or FAILURE)."""
        return await self.state() in READY_STATES

    async def get(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """Wait for the task and return its value, or raise TaskFailed with the remote error."""
        meta = await self._runtime.results.wait(self.id, timeout)
        if meta.state == SUCCESS or not propagate:
            return meta.result if meta.state == SUCCESS else meta.error
        error = meta.error
        if error is None:
            raise TaskFailed("UnknownError", "task failed without an error record")
        raise TaskFailed(error.type, error.message, error.traceback)

    async def info(self) -> Any:
        """Celery's ``.info``: the meta of a state the task set with ``update_state``
        ("PROGRESS"), the value of a SUCCESS, the error of a FAILURE or RETRY as a
        ``TaskFailed`` (returned, not raised), None while PENDING or STARTED."""
        meta = await self.meta()
        if meta.state in EXCEPTION_STATES and meta.error is not None:
            error = meta.error
            return TaskFailed(error.type, error.message, error.traceback)
        return meta.result

    async def forget(self) -> None:
        """Delete the stored record."""
        await self._runtime.results.forget(self.id)
