"""``AsyncResult``: a handle on one task's state and result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from waasp.runtime.errors import TaskFailed, TaskRevoked
from waasp.runtime.message import REVOKED_REASON, TaskMeta
from waasp.runtime.states import READY_STATES, REVOKED, SUCCESS, TaskState

if TYPE_CHECKING:
    from waasp.runtime.broker.results import ResultBackend
    from waasp.runtime.control import Control, RevokeReport


class ResultSource(Protocol):
    """What an ``AsyncResult`` reads from: a runtime, whose result backend connects lazily."""

    @property
    def results(self) -> ResultBackend:
        """The result backend."""

    @property
    def control(self) -> Control:
        """Remote control of tasks."""


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

    async def state(self) -> TaskState:
        """PENDING, STARTED, RETRY, SUCCESS, FAILURE or REVOKED."""
        return (await self.meta()).state

    async def ready(self) -> bool:
        """Tell whether the task has finished (SUCCESS, FAILURE or REVOKED)."""
        return await self.state() in READY_STATES

    async def get(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """Wait for the task and return its value; raise TaskFailed with the remote error, or
        TaskRevoked (its ``reason``: revoked, terminated or expired)."""
        meta = await self._runtime.results.wait(self.id, timeout)
        if meta.state == SUCCESS or not propagate:
            return meta.result if meta.state == SUCCESS else meta.error
        error = meta.error
        if meta.state == REVOKED:
            raise TaskRevoked(self.id, error.message if error is not None else REVOKED_REASON)
        if error is None:
            raise TaskFailed("UnknownError", "task failed without an error record")
        raise TaskFailed(error.type, error.message, error.traceback)

    async def revoke(self, terminate: bool = False) -> RevokeReport:
        """Revoke the task (``runtime.control.revoke``): it will not start; with
        ``terminate``, a running async task is cancelled too."""
        return await self._runtime.control.revoke(self.id, terminate=terminate)

    async def forget(self) -> None:
        """Delete the stored record."""
        await self._runtime.results.forget(self.id)
