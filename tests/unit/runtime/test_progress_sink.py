"""``update_state``'s path to the settler: from the loop or a thread, and never after the end."""

from __future__ import annotations

import asyncio

import pytest

from waasp.runtime.message import EncodeError, TaskMeta
from waasp.runtime.progress import ProgressSink, reset_sink, set_sink, update_state
from waasp.runtime.states import STARTED


async def test_updates_reach_the_settler_until_the_task_ends() -> None:
    """Updates from the loop and from a thread arrive in order; after ``close`` (the task
    ended; an abandoned thread may run on) they are dropped."""
    got: list[TaskMeta] = []
    base = TaskMeta(id="t1", state=STARTED, name="n", worker="w", entry_id="1-0", deliveries=1)
    sink = ProgressSink("t1", lambda: base, got.append, asyncio.get_running_loop())
    token = set_sink(sink)
    try:
        update_state(None, "PROGRESS", {"n": 1})
        await asyncio.to_thread(update_state, "t1", "PROGRESS", {"n": 2})
        await asyncio.sleep(0)
        sink.close()
        await asyncio.to_thread(update_state, None, "PROGRESS", {"n": 3})
        await asyncio.sleep(0)
    finally:
        reset_sink(token)
    assert [(m.state, m.result) for m in got] == [("PROGRESS", {"n": 1}), ("PROGRESS", {"n": 2})]
    assert all(m.entry_id == "1-0" and m.worker == "w" for m in got)


async def test_what_update_state_refuses() -> None:
    """Final states, another task's id and a meta JSON cannot hold are refused."""
    base = TaskMeta(id="t1", state=STARTED)
    sink = ProgressSink("t1", lambda: base, lambda meta: None, asyncio.get_running_loop())
    token = set_sink(sink)
    try:
        for state in ("SUCCESS", "FAILURE", ""):
            with pytest.raises(ValueError):
                update_state(None, state, None)
        with pytest.raises(ValueError):
            update_state("other", "PROGRESS", None)
        with pytest.raises(EncodeError):
            update_state(None, "PROGRESS", {1j})
    finally:
        reset_sink(token)
