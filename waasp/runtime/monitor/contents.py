"""What waits in a queue, and where one task is now: read-only looks for dashboards.

Each read is bounded: a queue's contents by the page asked for, a task's message by
``SCAN_LIMIT`` entries per place it may sit in (found by the place its record names, or in
every queue while it has no record yet). Times are ISO 8601 UTC, by the Redis server's clock
where Redis keeps them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from waasp.runtime.broker import PeekedTask, Place, dead_letter_id
from waasp.runtime.message import TaskMeta
from waasp.runtime.monitor.views import iso_time, task_dict
from waasp.runtime.states import TaskState

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime

# Entries read per place when looking for one task's message.
SCAN_LIMIT = 2000
# An undecodable message is shown cut to this many characters.
RAW_SHOWN = 2000

# Where a task's message may be, by the state of its record.
_PLACES: dict[TaskState, frozenset[Place]] = {
    TaskState.PENDING: frozenset({Place.WAITING, Place.IN_FLIGHT, Place.DELAYED}),
    TaskState.STARTED: frozenset({Place.IN_FLIGHT, Place.WAITING}),
    TaskState.RETRY: frozenset({Place.DELAYED, Place.WAITING, Place.IN_FLIGHT}),
    TaskState.FAILURE: frozenset({Place.DEAD}),
    # Revoked but not yet dropped: it waits until a worker is about to start it.
    TaskState.REVOKED: frozenset({Place.WAITING, Place.DELAYED, Place.IN_FLIGHT}),
}


def peeked_dict(item: PeekedTask, now_ms: int | None = None) -> dict[str, Any]:
    """A queued message as a JSON-ready dict; ``due_in`` (seconds) when ``now_ms`` is known."""
    message = item.message
    due_in = None
    if item.due_ms is not None and now_ms is not None:
        due_in = round((item.due_ms - now_ms) / 1000, 3)
    return {
        "queue": item.queue,
        "place": item.place.value,
        "task": message.task if message else None,
        "task_id": message.id if message else None,
        "args": list(message.args) if message else None,
        "kwargs": message.kwargs if message else None,
        "retries": message.retries if message else None,
        "priority": message.priority if message else item.priority,
        "enqueued_at": iso_time(message.enqueued_at) if message and message.enqueued_at else None,
        "due_at": None if item.due_ms is None else iso_time(item.due_ms / 1000),
        "due_in": due_in,
        "entry_id": item.entry_id,
        "dead_id": dead_letter_id(item.queue, item.entry_id)
        if item.place is Place.DEAD and item.entry_id
        else None,
        "raw_message": None if message else item.raw[:RAW_SHOWN].decode("utf-8", "replace"),
    }


async def queue_contents(runtime: Runtime, queue: str, limit: int = 50) -> dict[str, Any]:
    """The ``limit`` oldest waiting and ``limit`` next due delayed messages of ``queue``, with
    how many of each there are."""
    found = await runtime.broker.peek.contents(queue, limit)
    return {
        "queue": found.queue,
        "time": iso_time(found.now_ms / 1000),
        "limit": limit,
        "waiting": {
            "total": found.waiting_total,
            "tasks": [peeked_dict(x, found.now_ms) for x in found.waiting],
        },
        "delayed": {
            "total": found.delayed_total,
            "tasks": [peeked_dict(x, found.now_ms) for x in found.delayed],
        },
    }


async def _find(
    runtime: Runtime, task_id: str, queues: Collection[str], places: frozenset[Place]
) -> PeekedTask | None:
    for queue in queues:
        found = await runtime.broker.peek.find(queue, task_id, places, SCAN_LIMIT)
        if found is not None:
            return found
    return None


async def locate(runtime: Runtime, meta: TaskMeta) -> PeekedTask | None:
    """Where the message of the task ``meta`` describes sits now (None: nowhere it can be
    read: done, expired, unknown, or deeper than SCAN_LIMIT)."""
    # A custom state (update_state's "PROGRESS") is set by a running task: like STARTED.
    state = meta.state if isinstance(meta.state, TaskState) else TaskState.STARTED
    places = _PLACES.get(state)
    if places is None:  # SUCCESS: the message is gone
        return None
    queues = [meta.queue] if meta.queue else await runtime.broker.known_queues()
    return await _find(runtime, meta.id, queues, places)


async def task_detail(runtime: Runtime, task_id: str) -> dict[str, Any]:
    """A task's record and, where it can still be read, its message (arguments, due time)."""
    meta = await runtime.AsyncResult(task_id).meta()
    found = await locate(runtime, meta)
    return {**task_dict(meta), "message": None if found is None else peeked_dict(found)}
