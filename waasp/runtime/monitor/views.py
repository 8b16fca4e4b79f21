"""How runtime records look as JSON: one builder per record, shared by the ``inspect`` CLI
and any HTTP API, so the two never disagree."""

from __future__ import annotations

from typing import Any

from waasp.runtime.message import DeadLetter, TaskMeta


def dead_letter_dict(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as a JSON-ready dict."""
    message = letter.message
    return {
        "id": letter.id,
        "queue": letter.queue,
        "reason": letter.reason,
        "task": message.task if message else None,
        "task_id": message.id if message else None,
        "args": list(message.args) if message else None,
        "kwargs": message.kwargs if message else None,
        "raw_message": None if message else letter.raw_message.decode("utf-8", "replace"),
        "error": None if letter.error is None else letter.error.as_dict(),
        "retries": letter.retries,
        "deliveries": letter.deliveries,
        "failed_at": letter.failed_at,
        "worker": letter.worker,
        "replayed": int(message.headers.get("replayed", 0)) if message else 0,
    }


def task_dict(meta: TaskMeta) -> dict[str, Any]:
    """A task record as a JSON-ready dict."""
    return {
        "id": meta.id,
        "name": meta.name,
        "state": meta.state.value,
        "result": meta.result,
        "error": None if meta.error is None else meta.error.as_dict(),
        "retries": meta.retries,
        "queue": meta.queue,
        "worker": meta.worker,
        "started_at": meta.started_at,
        "date_done": meta.date_done,
    }
