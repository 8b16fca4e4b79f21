"""How runtime records look as JSON: one builder per record, shared by the ``inspect`` CLI
and any HTTP API, so the two never disagree.

Redis keeps times as epoch seconds; every view shows them as ISO 8601 in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from waasp.runtime.message import DeadLetter, TaskMeta
from waasp.runtime.states import TaskState

WORKER_TIMES = ("started_at", "last_heartbeat")


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (microseconds, ``+00:00``); None stays None."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="microseconds")


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
        "failed_at": iso_time(letter.failed_at),
        "worker": letter.worker,
        "replayed": int(message.headers.get("replayed", 0)) if message else 0,
    }


def task_dict(meta: TaskMeta) -> dict[str, Any]:
    """A task record as a JSON-ready dict."""
    return {
        "id": meta.id,
        "name": meta.name,
        "state": str(meta.state),
        "result": meta.result,
        "error": None if meta.error is None else meta.error.as_dict(),
        "retries": meta.retries,
        "queue": meta.queue,
        "worker": meta.worker,
        "started_at": iso_time(meta.started_at),
        "date_done": iso_time(meta.date_done),
        # The meta of a state the task set itself (update_state), as ``info()`` reads it.
        "progress": None if isinstance(meta.state, TaskState) else meta.result,
    }


def worker_dict(info: Mapping[str, Any]) -> dict[str, Any]:
    """A worker's heartbeat as a JSON-ready dict."""
    return {**info, **{name: iso_time(info[name]) for name in WORKER_TIMES if name in info}}


def event_dict(event: Mapping[str, Any]) -> dict[str, Any]:
    """A task event (or failure) as a JSON-ready dict."""
    return {**event, "time": iso_time(event.get("time"))}


def throughput_dict(throughput: Mapping[str, Any]) -> dict[str, Any]:
    """The throughput buckets as a JSON-ready dict, each bucket's start time ISO."""
    buckets = [{**bucket, "time": iso_time(bucket["time"])} for bucket in throughput["buckets"]]
    return {**throughput, "buckets": buckets}
