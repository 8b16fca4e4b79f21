"""Revoke: a revoked task never starts, wherever it waits (stream, delay set, a worker's
prefetch buffer, a retry), even on a worker started after the revoke; ``terminate=True`` stops
a running async task and discards a running sync task's result; ``get()`` raises
TaskRevoked."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests import servers
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    get_when_reachable,
    rebind,
    running,
    runs,
    stream_state,
    wait_settled,
    wait_until,
    worker_env,
)
from waasp.runtime import (
    FAILURE,
    PENDING,
    RETRY,
    REVOKED,
    STARTED,
    SUCCESS,
    AsyncResult,
    Runtime,
    TaskRevoked,
    Worker,
    signals,
)
from waasp.runtime.broker.errors import REDIS_ERRORS
from waasp.runtime.monitor import task_counters, task_detail


async def assert_revoked(result: AsyncResult, reason: str = "revoked") -> None:
    """The task ends REVOKED, ``get()`` raises TaskRevoked with ``reason``."""
    with pytest.raises(TaskRevoked) as caught:
        await result.get(timeout=20)
    assert caught.value.reason == reason
    assert caught.value.task_id == result.id
    assert await result.state() == REVOKED
    assert await result.ready()


async def settled_by_worker(result: AsyncResult) -> bool:
    """Whether a worker wrote the REVOKED record (it carries the delivery's entry id)."""
    meta = await result.meta()
    return meta.state == REVOKED and meta.entry_id is not None


async def no_dead_letters(runtime: Runtime) -> None:
    """Nothing was dead-lettered."""
    assert sum((await runtime.dlq.count()).values()) == 0


async def test_a_queued_task_revoked_before_any_worker_never_runs(runtime: Runtime) -> None:
    """A queued task revoked before any worker starts is settled REVOKED by the worker that
    starts later, never run, and not dead-lettered."""
    result = await apps.ping.delay("queued")
    other = await apps.ping.delay("other")
    report = await result.revoke()
    assert report.previous is None and not report.terminate  # no record while queued
    await assert_revoked(result)  # at once: the record says so before any worker looks
    await Worker(runtime, ["default"], 2, burst=True).run()
    assert await runs(runtime, "ping:queued") == 0
    assert await other.get(timeout=10) == "other"
    assert await settled_by_worker(result)
    await wait_settled(runtime)
    await no_dead_letters(runtime)
    counts = (await task_counters(runtime)).counts[apps.ping.name]
    assert counts.get("revoked") == 1 and counts.get("succeeded") == 1, counts


async def test_a_delayed_task_revoked_never_runs(runtime: Runtime) -> None:
    """A task waiting in the delay set, revoked through ``runtime.control``, is dropped when
    it comes due."""
    result = await apps.ping.apply_async(("delayed",), countdown=0.3)
    await runtime.control.revoke(result.id)
    await Worker(runtime, ["default"], 1, burst=True).run()  # burst waits for the delay set
    assert await runs(runtime, "ping:delayed") == 0
    await assert_revoked(result)
    assert await settled_by_worker(result)
    await wait_settled(runtime)
    await no_dead_letters(runtime)


async def test_a_prefetched_task_revoked_never_runs(runtime: Runtime) -> None:
    """A task a worker holds in its prefetch buffer (its one executor busy) is revoked: the
    worker drops it instead of starting it."""
    busy = await apps.sleepy.delay("busy", 1.0)
    held = await apps.ping.delay("held")
    worker = Worker(runtime, ["default"], 1, prefetch_multiplier=4)
    async with running(worker):

        async def both_read() -> bool:
            return await stream_state(runtime) == (2, 2) and await _ran(runtime, "sleepy:busy")

        await wait_until(both_read, timeout=20)
        assert worker.inflight.count == 2  # the worker holds both, runs one
        await held.revoke()
        assert await busy.get(timeout=20) == "busy"
        await wait_until(lambda: settled_by_worker(held), timeout=20)
    assert await runs(runtime, "ping:held") == 0
    await assert_revoked(held)
    await wait_settled(runtime)
    await no_dead_letters(runtime)


async def test_a_task_waiting_for_its_retry_never_runs_again(runtime: Runtime) -> None:
    """A task revoked while it waits for its retry does not run again."""
    result = await apps.retry_then_count.delay("retrying", 0.5)
    async with running(Worker(runtime, ["default"], 1)):

        async def retrying() -> bool:
            return await result.state() == RETRY

        await wait_until(retrying, timeout=20)
        report = await result.revoke()
        assert report.previous == RETRY
        await wait_until(lambda: settled_by_worker(result), timeout=20)
    assert await runs(runtime, "attempt:retrying:0") == 1
    assert await runs(runtime, "attempt:retrying:1") == 0
    await assert_revoked(result)
    await wait_settled(runtime)
    await no_dead_letters(runtime)


async def test_terminate_cancels_a_running_async_task(runtime: Runtime) -> None:
    """``revoke(terminate=True)`` cancels a running async task where it awaits: it ends
    REVOKED (reason terminated), acknowledged, not retried, not dead-lettered, and its worker
    goes on running other tasks."""
    result = await apps.sleepy.delay("long", 60.0)
    worker = Worker(runtime, ["default"], 1)
    async with running(worker):
        await wait_until(lambda: _started(result, runtime, "sleepy:long"), timeout=20)
        report = await result.revoke(terminate=True)
        assert report.terminate
        await assert_revoked(result, "terminated")
        after = await apps.ping.delay("after")
        assert await after.get(timeout=20) == "after"
    assert await runs(runtime, "sleepy-done:long") == 0
    assert worker.counts["REVOKED"] == 1
    await wait_settled(runtime)
    await no_dead_letters(runtime)


async def test_a_running_task_sees_is_revoked(runtime: Runtime) -> None:
    """A revoke without terminate lets a running task finish, and ``self.request.is_revoked()``
    tells it at its safe points; its outcome is its own (SUCCESS)."""
    result = await apps.until_revoked.delay("polite")
    async with running(Worker(runtime, ["default"], 1)):

        async def started() -> bool:  # its STARTED record is what keeps the revoke off it
            return await result.state() == STARTED

        await wait_until(started, timeout=20)
        assert (await result.revoke()).previous == STARTED
        assert await result.get(timeout=20) == "noticed"
    assert await result.state() == SUCCESS
    await wait_settled(runtime)


async def test_terminate_discards_a_running_sync_tasks_result(runtime: Runtime) -> None:
    """A running sync task cannot be interrupted: it runs to its end, and its result is
    discarded: REVOKED, reason terminated."""
    result = await apps.sync_sleepy.delay("thread", 1.0)
    async with running(Worker(runtime, ["default"], 1)):
        await wait_until(lambda: _started(result, runtime, "sync-sleepy:thread"), timeout=20)
        await result.revoke(terminate=True)
        await assert_revoked(result, "terminated")
    assert await runs(runtime, "sync-sleepy-done:thread") == 1  # it did run to its end
    await wait_settled(runtime)
    await no_dead_letters(runtime)


async def test_revoking_a_finished_task_keeps_its_outcome(runtime: Runtime) -> None:
    """A task that has finished keeps its SUCCESS; the report says so."""
    result = await apps.ping.delay("done")
    await Worker(runtime, ["default"], 1, burst=True).run()
    report = await result.revoke(terminate=True)
    assert report.previous == SUCCESS and "already finished" in report.note
    assert await result.get(timeout=5) == "done"


async def test_revoke_checks_its_input(runtime: Runtime) -> None:
    """An empty or unprintable id is a ValueError, a non-bool terminate a TypeError; nothing
    is recorded for them."""
    for bad in ("", "x" * 256, "a\nb"):
        with pytest.raises(ValueError, match="task id"):
            await runtime.control.revoke(bad)
    with pytest.raises(TypeError):
        await runtime.control.revoke(123)  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(TypeError, match="terminate"):
        await runtime.control.revoke("some-id", terminate="yes")  # type: ignore[arg-type]
    assert await runtime.AsyncResult("some-id").state() == PENDING


async def _ran(runtime: Runtime, tag: str) -> bool:
    return await runs(runtime, tag) > 0


async def _started(result: AsyncResult, runtime: Runtime, tag: str) -> bool:
    """The task runs and its STARTED record is written (the worker writes it a moment after
    the start): a revoke now finds it running."""
    return await _ran(runtime, tag) and await result.state() == STARTED


async def test_a_replayed_dead_letter_runs_despite_an_old_revoke_and_deadline(
    runtime: Runtime,
) -> None:
    """Replaying a dead letter by hand is the later wish: it runs although its task was
    revoked after it failed and its ``expires`` deadline has passed meanwhile."""
    result = await apps.permanent_error.apply_async(("replayed",), expires=0.5)
    await Worker(runtime, ["default"], 1, burst=True).run()
    (letter,) = await runtime.dlq.list()
    deadline = letter.message.expires if letter.message is not None else None
    assert deadline is not None
    assert (await result.revoke()).previous == FAILURE
    await wait_until(lambda: _past(deadline), 10)
    assert await runtime.dlq.replay(letter.id) == result.id
    await Worker(runtime, ["default"], 1, burst=True).run()
    assert await runs(runtime, "permanent:replayed") == 2
    assert (await result.meta()).error is not None  # it ran, and failed again: not REVOKED
    assert await result.state() == FAILURE


async def _past(deadline: float) -> bool:
    return time.time() > deadline


@pytest.mark.slow
async def test_terminate_reaches_a_worker_across_a_redis_restart(
    runtime: Runtime, private_redis: servers.PrivateRedis, key_prefix: str, tmp_path: Path
) -> None:
    """redis-server killed and restarted under a worker process running a long async task:
    its revoke watch rides out the outage, and a terminate sent afterwards still stops it."""
    await rebind(runtime, private_redis.url)
    factory = WorkerFactory(worker_env(private_redis.url, key_prefix, 5.0), tmp_path)
    try:
        worker = factory.start(concurrency=2)
        result = await apps.sleepy.delay("outage", 120.0)

        async def started() -> bool:
            return await result.state() == STARTED

        await wait_until(started, timeout=30)
        private_redis.kill()
        await asyncio.sleep(0.5)  # the worker's revoke watch meets the outage
        private_redis.restart(keep_data=True)
        deadline = time.monotonic() + 20
        while True:  # the client's own pooled connections are stale once
            try:
                await result.revoke(terminate=True)
                break
            except REDIS_ERRORS:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        with pytest.raises(TaskRevoked) as caught:
            await get_when_reachable(result, timeout=30)
        assert caught.value.reason == "terminated", worker.output()
        assert await runs(runtime, "sleepy-done:outage") == 0
        assert worker.alive(), worker.output()
    finally:
        factory.reap()


async def test_a_revoked_task_is_shown_where_it_waits_until_dropped(runtime: Runtime) -> None:
    """``inspect task`` (and the API) show a revoked task's message while it still waits in
    its delay set; once a worker dropped it, nothing."""
    result = await apps.ping.apply_async(("shown",), countdown=0.3)
    await result.revoke()
    detail = await task_detail(runtime, result.id)
    assert detail["state"] == "REVOKED"
    assert detail["message"] is not None and detail["message"]["place"] == "delayed"
    await Worker(runtime, ["default"], 1, burst=True).run()
    assert (await task_detail(runtime, result.id))["message"] is None


async def test_task_revoked_is_sent_for_a_dropped_and_a_terminated_task(runtime: Runtime) -> None:
    """``task_revoked`` reaches its receivers when a revoked task is dropped at its start
    (no request) and when a running one is terminated (its request, ``terminated``)."""
    seen: list[tuple[str, bool, bool, bool]] = []

    def receiver(
        task_id: str, request: object, terminated: bool, expired: bool, **_: object
    ) -> None:
        seen.append((task_id, request is not None, terminated, expired))

    signals.task_revoked.connect(receiver)
    try:
        dropped = await apps.ping.delay("dropped")
        await dropped.revoke()
        long = await apps.sleepy.delay("stopped", 60.0)
        async with running(Worker(runtime, ["default"], 1)):
            await wait_until(lambda: _started(long, runtime, "sleepy:stopped"), timeout=20)
            await long.revoke(terminate=True)
            await assert_revoked(long, "terminated")
    finally:
        signals.task_revoked.disconnect(receiver)
    assert (dropped.id, False, False, False) in seen
    assert (long.id, True, True, False) in seen
