"""``AsyncResult``: a handle on one task's state and result; ``EagerResult``: one already run."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, overload

from waasp.runtime.errors import TaskFailed, TaskRevoked, TaskRuntimeError
from waasp.runtime.message import REVOKED_REASON, RemoteError, TaskMeta
from waasp.runtime.states import (
    EXCEPTION_STATES,
    PENDING,
    READY_STATES,
    REVOKED,
    SUCCESS,
    TaskState,
)

if TYPE_CHECKING:
    from waasp.runtime.control import Control, RevokeReport

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:  # type-parameter defaults (PEP 696) came to ``typing`` in 3.13
    from typing_extensions import TypeVar

R = TypeVar("R", default=Any)


class ResultReader(Protocol):
    """The reads of a result backend that a handle makes."""

    async def get_meta(self, task_id: str) -> TaskMeta:
        """The stored record, or a PENDING one."""

    async def wait(self, task_id: str, timeout: float | None) -> TaskMeta:
        """The record once the task is ready."""

    async def forget(self, task_id: str) -> None:
        """Delete the record."""


class ResultSource(Protocol):
    """What an ``AsyncResult`` reads from: a runtime, whose result backend connects lazily."""

    @property
    def results(self) -> ResultReader:
        """The result backend."""

    @property
    def control(self) -> Control:
        """Remote control of tasks."""


class AsyncResult(Generic[R]):
    """A handle on one task's state and result; ``R`` is the task's result type."""

    def __init__(self, task_id: str, runtime: ResultSource) -> None:
        self.id = task_id
        self._runtime = runtime

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    async def meta(self) -> TaskMeta:
        """The task's whole stored record."""
        return await self._runtime.results.get_meta(self.id)

    async def state(self) -> TaskState | str:
        """PENDING, STARTED, RETRY, SUCCESS, FAILURE or REVOKED, or a state the task set
        itself with ``update_state`` ("PROGRESS")."""
        return (await self.meta()).state

    async def ready(self) -> bool:
        """Tell whether the task has finished (SUCCESS, FAILURE or REVOKED)."""
        return await self.state() in READY_STATES

    @overload
    async def get(self, timeout: float | None = None, propagate: Literal[True] = True) -> R: ...

    @overload
    async def get(
        self, timeout: float | None = None, propagate: bool = True
    ) -> R | RemoteError | None: ...

    async def get(
        self, timeout: float | None = None, propagate: bool = True
    ) -> R | RemoteError | None:
        """Wait for the task and return its value, or raise TaskFailed with the remote error
        (with ``propagate=False``, return the remote error instead), or TaskRevoked (its
        ``reason``: revoked, terminated or expired)."""
        meta = await self._runtime.results.wait(self.id, timeout)
        if meta.state == SUCCESS or not propagate:
            # The stored JSON (Any) is an R by the task's signature: the worker stored its return.
            return meta.result if meta.state == SUCCESS else meta.error
        error = meta.error
        if meta.state == REVOKED:
            raise TaskRevoked(self.id, error.message if error is not None else REVOKED_REASON)
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

    async def revoke(self, terminate: bool = False) -> RevokeReport:
        """Revoke the task (``runtime.control.revoke``): it will not start; with
        ``terminate``, a running async task is cancelled too."""
        return await self._runtime.control.revoke(self.id, terminate=terminate)

    async def forget(self) -> None:
        """Delete the stored record."""
        await self._runtime.results.forget(self.id)


class _Held:
    """One record kept in memory: the result backend of an ``EagerResult``."""

    def __init__(self, meta: TaskMeta) -> None:
        self.meta = meta

    @property
    def results(self) -> _Held:
        return self

    @property
    def control(self) -> Control:
        raise TaskRuntimeError("an eager task has run already: there is nothing to revoke")

    async def get_meta(self, task_id: str) -> TaskMeta:
        return self.meta

    async def wait(self, task_id: str, timeout: float | None) -> TaskMeta:
        return self.meta  # ready from the start: nothing to wait for

    async def forget(self, task_id: str) -> None:
        self.meta = TaskMeta(id=task_id, state=PENDING)


class EagerResult(AsyncResult[R]):
    """The result of a task run in this process (``task_always_eager``): ready at once,
    read from memory, never from Redis; the same API as ``AsyncResult``."""

    def __init__(self, meta: TaskMeta) -> None:
        super().__init__(meta.id, _Held(meta))
