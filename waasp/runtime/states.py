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


PENDING = TaskState.PENDING
STARTED = TaskState.STARTED
RETRY = TaskState.RETRY
SUCCESS = TaskState.SUCCESS
FAILURE = TaskState.FAILURE

READY_STATES = frozenset({SUCCESS, FAILURE})
UNREADY_STATES = frozenset({PENDING, STARTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE})
