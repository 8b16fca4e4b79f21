"""Expiry: a task not started by its ``expires`` deadline is not run: it ends REVOKED with
reason ``expired``, counted, never dead-lettered; a task that starts in time runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import runs, wait_settled
from waasp.runtime import REVOKED, Runtime, TaskRevoked, Worker
from waasp.runtime.monitor import task_counters


async def assert_expired(runtime: Runtime, tag: str, result_id: str) -> None:
    """The task never ran, ended REVOKED (expired) as a worker recorded, with no dead letter."""
    result = runtime.AsyncResult(result_id)
    with pytest.raises(TaskRevoked) as caught:
        await result.get(timeout=20)
    assert caught.value.reason == "expired"
    meta = await result.meta()
    assert meta.state == REVOKED and meta.worker is not None and meta.entry_id is not None
    assert await runs(runtime, f"ping:{tag}") == 0
    await wait_settled(runtime)
    assert sum((await runtime.dlq.count()).values()) == 0


async def test_a_queued_task_past_its_deadline_is_not_run(runtime: Runtime) -> None:
    """A queued task whose deadline (a datetime) passed before a worker started it ends
    REVOKED, reason expired, counted as revoked; the one beside it with time left runs."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    stale = await apps.ping.apply_async(("stale",), expires=past)
    fresh = await apps.ping.apply_async(("fresh",), expires=600)
    await Worker(runtime, ["default"], 2, burst=True).run()
    await assert_expired(runtime, "stale", stale.id)
    assert await fresh.get(timeout=10) == "fresh"
    counts = (await task_counters(runtime)).counts[apps.ping.name]
    assert counts.get("revoked") == 1 and counts.get("succeeded") == 1, counts


async def test_a_delayed_task_due_after_its_deadline_is_not_run(runtime: Runtime) -> None:
    """A delayed task whose countdown ends after its expiry (seconds) is dropped when due."""
    result = await apps.ping.apply_async(("late",), countdown=0.4, expires=0.1)
    await Worker(runtime, ["default"], 1, burst=True).run()  # burst waits for the delay set
    await assert_expired(runtime, "late", result.id)
