"""The runtime's exceptions: one root, control flow kept apart from failures."""

from __future__ import annotations

from datetime import datetime


class TaskRuntimeError(Exception):
    """Root of every error the runtime raises."""


class ConfigurationError(TaskRuntimeError, ValueError):
    """A setting has a value the runtime cannot work with (a ValueError too)."""


class UnsupportedRedis(TaskRuntimeError):
    """The Redis server is older than the runtime needs (6.2)."""


class AppImportError(TaskRuntimeError):
    """``-A module:attr`` did not name an importable Runtime."""


class NotRegistered(TaskRuntimeError):
    """A task name is not in the registry."""


class DeadLetterNotFound(TaskRuntimeError, LookupError):
    """No dead letter has that id (it was replayed or purged, or never existed)."""


class ResultTimeout(TaskRuntimeError, TimeoutError):
    """``AsyncResult.get`` waited longer than its timeout."""


class TaskFailed(TaskRuntimeError):
    """The task ended FAILURE on a worker; carries the remote error."""

    def __init__(self, exc_type: str, message: str, traceback: str | None = None) -> None:
        super().__init__(f"{exc_type}: {message}" if message else exc_type)
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback


class TaskRevoked(TaskRuntimeError):
    """The task ended REVOKED: revoked before it started (``reason`` "revoked"), aborted while
    it ran ("terminated"), or not started before its ``expires`` deadline ("expired")."""

    def __init__(self, task_id: str, reason: str) -> None:
        super().__init__(f"task {task_id} was revoked ({reason})")
        self.task_id = task_id
        self.reason = reason


class TimeLimitExceeded(TaskRuntimeError):
    """The task ran past its ``time_limit``: it was stopped (an async task is cancelled, a
    sync task's thread abandoned) and fails with this error (retryable by ``autoretry_for``)."""


class SoftTimeLimitExceeded(TaskRuntimeError):
    """The task ran past its ``soft_time_limit``: raised inside an async task where it awaits
    (catch it to clean up); a sync task fails with it when its thread returns."""


class ChordError(TaskRuntimeError):
    """A chord's callback did not run: one of its members failed (the callback's record)."""


class MaxRetriesExceededError(TaskRuntimeError):
    """``retry()`` was called past ``max_retries`` without an exception to re-raise."""


class Retry(Exception):
    """Raised by task code (``raise self.retry(...)``) to run the task again later."""

    def __init__(
        self,
        exc: BaseException | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(f"retry in {countdown}s" if countdown is not None else "retry")
        self.exc = exc
        self.countdown = countdown
        self.eta = eta
        self.max_retries = max_retries


class Reject(Exception):
    """Raised by task code to dead-letter the current message by hand."""

    def __init__(self, reason: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason


class NotReplicated(TaskRuntimeError):
    """Fewer replicas than ``broker_min_replicas`` acknowledged a write in time.

    The write itself was made on the master: an enqueue that raises this may still run (and
    may be lost should the master fail before a replica has it)."""
