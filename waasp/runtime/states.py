"""Task states, with Celery's names and named sets."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is in its life."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    RETRY = "RETRY"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"  # revoked, terminated or expired: it will not run (again)


PENDING = TaskState.PENDING
STARTED = TaskState.STARTED
RETRY = TaskState.RETRY
SUCCESS = TaskState.SUCCESS
FAILURE = TaskState.FAILURE
REVOKED = TaskState.REVOKED

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, STARTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})


def state_of(name: object) -> TaskState | str:
    """``name`` as a ``TaskState`` when it is one, else the custom state itself (a task may set
    any state string with ``update_state``, as in Celery: ``"PROGRESS"``). Raise ValueError for
    anything but a non-empty string."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid task state {name!r}")
    try:
        return TaskState(name)
    except ValueError:
        return name
