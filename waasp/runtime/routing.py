"""Which queue a task goes to."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

Routes = Mapping[str, Mapping[str, Any]]


def resolve_queue(
    task_name: str,
    explicit: str | None,
    task_queue: str | None,
    routes: Routes,
    default: str,
) -> str:
    """Pick the queue: explicit > the task's own > first matching glob of ``routes`` > default."""
    if explicit:
        return explicit
    if task_queue:
        return task_queue
    for pattern, route in routes.items():
        if fnmatchcase(task_name, pattern) and route.get("queue"):
            return str(route["queue"])
    return default
