"""Guarantees 3, 4 and 5: delays, retries, automatic retries and dead letters."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    runs,
    start_times,
    wait_settled,
    wait_until,
)
from waasp.runtime import FAILURE, RETRY, Runtime, TaskFailed
from waasp.runtime.broker.client import connect
from waasp.runtime.broker.streams import Broker
from waasp.runtime.message import decode_message


async def test_retry_with_countdown(runtime: Runtime, workers: WorkerFactory) -> None:
    """Retried twice with countdown 0.3 s: succeeds on the third execution, gaps >= 0.3 s,
    RETRY observable in between."""
    workers.start()
    result = await apps.retry_twice.delay("r", 0.3)
    seen = set()

    async def done() -> bool:
        state = await result.state()
        seen.add(state)
        return await result.ready()

    await wait_until(done, timeout=15, interval=0.01)
    assert RETRY in seen
    assert await result.get(timeout=1) == 2
    times = await start_times(runtime, "retry:r")
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.3 for gap in gaps), gaps
    assert all(gap < 1.5 for gap in gaps), f"a due retry starts promptly: {gaps}"
    assert (await result.meta()).retries == 2


async def test_exhausted_retries_end_in_the_dlq(runtime: Runtime, workers: WorkerFactory) -> None:
    """Always failing with max_retries=2: 3 executions, FAILURE, dead-lettered with its
    arguments, error and traceback."""
    workers.start()
    result = await apps.always_fails.apply_async(("x",), {"payload": {"n": 1}})
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == "tests.integration.runtime.apps.TemporaryError"
    await wait_settled(runtime, dead=1)
    assert await runs(runtime, "fails:x") == 3
    letters = await runtime.dlq.list()
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason == "failed"
    assert letter.retries == 2
    assert letter.message is not None
    assert letter.message.id == result.id
    assert letter.message.task == apps.always_fails.name
    assert letter.message.args == ("x",)
    assert letter.message.kwargs == {"payload": {"n": 1}}
    assert letter.error is not None and letter.error.traceback is not None
    assert "TemporaryError: x is down" in letter.error.traceback
    assert await runtime.broker.client.zcard(runtime.keys.queue("default").delayed) == 0


async def test_permanent_error_fails_at_once(runtime: Runtime, workers: WorkerFactory) -> None:
    """An exception outside ``autoretry_for`` ends FAILURE after one execution, in the DLQ."""
    workers.start()
    result = await apps.permanent_error.delay("k")
    with pytest.raises(TaskFailed) as failed:
        await result.get(timeout=15)
    assert failed.value.exc_type == "KeyError"
    await wait_settled(runtime, dead=1)
    assert await runs(runtime, "permanent:k") == 1
    assert [x.reason for x in await runtime.dlq.list()] == ["failed"]


async def test_autoretry_with_backoff_then_success(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """``autoretry_for=(TemporaryError,)`` with ``retry_backoff`` retries, then succeeds."""
    workers.start()
    result = await apps.flaky.delay("f", 2)
    assert await result.get(timeout=15) == 2
    assert await runs(runtime, "flaky:f") == 3
    await wait_settled(runtime, dead=0)
    assert await runtime.dlq.count() == {"default": 0}


@pytest.mark.slow
async def test_countdown_longer_than_visibility_timeout(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """100 tasks with countdown 1 s, visibility timeout 0.5 s, three workers: each runs
    exactly once, none before its due time."""
    env = {"WAASP_VISIBILITY_TIMEOUT": "0.5"}
    for _ in range(3):
        workers.start(concurrency=10, env=env)
    sent: list[float] = []
    results = []
    for i in range(100):
        sent.append(time.time())
        results.append(await apps.counted.apply_async((i,), countdown=1.0))
    for i, result in enumerate(results):
        assert await result.get(timeout=20) == i
    await asyncio.sleep(1.0)  # room for a wrong second execution to show up
    for i in range(100):
        times = await start_times(runtime, f"counted:{i}")
        assert len(times) == 1, f"task {i} ran {len(times)} times"
        # due = Redis TIME at scheduling + 1 s >= sent[i] + 1 s (one host, one clock); the
        # slack only absorbs the float rounding of the two clocks' readings.
        assert times[0] >= sent[i] + 1.0 - 0.002, (i, times[0] - sent[i])


@pytest.mark.slow
async def test_sigkill_between_retry_and_next_run(runtime: Runtime, workers: WorkerFactory) -> None:
    """SIGKILL right after a task's retry decision: its next attempt still runs, once."""
    first = workers.start(env={"WAASP_VISIBILITY_TIMEOUT": "0.5"})
    result = await apps.retry_then_count.delay("k", 0.8)

    async def retrying() -> bool:
        return await result.state() == RETRY

    await wait_until(retrying, timeout=15, interval=0.002)
    first.kill()
    workers.start(env={"WAASP_VISIBILITY_TIMEOUT": "0.5"})
    assert await result.get(timeout=20) == 1
    await asyncio.sleep(1.0)  # room for a doubled attempt to show up
    assert await runs(runtime, "attempt:k:1") == 1
    # Killed before the retry was settled, the first attempt is redelivered and decides
    # again; killed after, it is not. Either way the next attempt is neither lost nor doubled.
    assert await runs(runtime, "attempt:k:0") in (1, 2)
    await wait_settled(runtime)
    assert await runtime.broker.client.zcard(runtime.keys.queue("default").delayed) == 0


async def test_racing_promoters_move_each_task_once(runtime: Runtime) -> None:
    """Several brokers promoting the same delay set at once: each due task enters the stream
    exactly once."""
    total = 600
    for i in range(total):
        await apps.noop.apply_async((i,), countdown=0.3)
    q = runtime.keys.queue("default")
    assert await runtime.broker.client.zcard(q.delayed) == total
    brokers = [Broker(connect(runtime.conf.broker_url), runtime.keys) for _ in range(6)]
    moved = [0] * len(brokers)

    async def promote(n: int) -> None:
        while await runtime.broker.client.zcard(q.delayed):
            count = (await brokers[n].promote("default")).moved
            moved[n] += count

    try:
        await asyncio.sleep(0.3)
        await asyncio.gather(*(promote(n) for n in range(len(brokers))))
    finally:
        for broker in brokers:
            await broker.client.aclose()
    assert sum(moved) == total
    entries = await runtime.broker.client.xrange(q.stream)
    ids = [decode_message(fields[b"message"]).id for _, fields in entries]
    assert len(ids) == total
    assert len(set(ids)) == total


async def test_manual_dead_letters(runtime: Runtime, workers: WorkerFactory) -> None:
    """``raise self.send_to_dlq(why)`` and ``runtime.dlq.send`` dead-letter by hand."""
    workers.start()
    result = await apps.reject_me.delay("m")
    with pytest.raises(TaskFailed):
        await result.get(timeout=15)
    assert await result.state() == FAILURE
    await wait_settled(runtime, dead=1)
    assert await runs(runtime, "reject:m") == 1
    dead_id = await runtime.dlq.send(apps.add.name, (4, 5), reason="bad input")
    letters = {x.id: x for x in await runtime.dlq.list()}
    assert len(letters) == 2
    assert letters[dead_id].reason == "bad input"
    manual = letters[dead_id].message
    assert manual is not None and manual.args == (4, 5)
    rejected = next(x for x in letters.values() if x.id != dead_id)
    assert rejected.reason == "rejected: m cannot be processed"
    task_id = await runtime.dlq.replay(dead_id)
    assert await runtime.AsyncResult(task_id).get(timeout=15) == 9
    assert await runtime.dlq.count() == {"default": 1}
