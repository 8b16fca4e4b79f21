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
