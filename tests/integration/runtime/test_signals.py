"""Signals sent by a real producer and an in-process worker on the test Redis: their order and
arguments, receivers that fail, headers added before publishing, the worker's life."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.integration.runtime.hooked import Receivers, own_runtime, receivers, run_burst
from waasp.runtime import (
    FAILURE,
    RETRY,
    SUCCESS,
    Runtime,
    Scheduler,
    Task,
    TaskFailed,
    Worker,
    signals,
)

TASK_SIGNALS = [
    signals.before_task_publish,
    signals.after_task_publish,
    signals.task_prerun,
    signals.task_success,
    signals.task_failure,
    signals.task_retry,
    signals.task_postrun,
]


@pytest.fixture
async def rt(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """A runtime of this test's own."""
    async with own_runtime(redis_url, key_prefix) as runtime:
        yield runtime


@pytest.fixture
def hooks() -> Iterator[Receivers]:
    """Receivers disconnected after the test."""
    with receivers() as made:
        yield made


def record(hooks: Receivers) -> list[tuple[str, dict[str, Any]]]:
    """Connect a receiver to every task signal; return the list it appends (name, kwargs) to."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def receiver(signal: signals.Signal, **kwargs: Any) -> None:
        seen.append((signal.name, kwargs))

    for sig in TASK_SIGNALS:
        hooks.connect(sig, receiver)
    return seen


async def test_success_sends_publish_prerun_success_postrun(rt: Runtime, hooks: Receivers) -> None:
    """A task that succeeds: before/after publish (sender: its name), then prerun, success
    and postrun (sender: the Task) with its id, arguments and return value."""

    @rt.task(name="sig.add")
    def add(x: int, y: int) -> int:
        return x + y

    seen = record(hooks)
    result = await add.apply_async((2, 3), {})
    await run_burst(rt)
    assert await result.get(timeout=10) == 5
    assert [name for name, _ in seen] == [
        "before_task_publish",
        "after_task_publish",
        "task_prerun",
        "task_success",
        "task_postrun",
    ]
    by_name = dict(seen)
    for name in ("before_task_publish", "after_task_publish"):
        assert by_name[name]["sender"] == "sig.add"
        assert by_name[name]["task_id"] == result.id
        assert by_name[name]["routing_key"] == by_name[name]["queue"] == "default"
        assert by_name[name]["args"] == (2, 3)
    for name in ("task_prerun", "task_success", "task_postrun"):
        kwargs = by_name[name]
        assert kwargs["sender"] is add and kwargs["task"] is add
        assert kwargs["task_id"] == result.id and kwargs["request"].id == result.id
        assert kwargs["args"] == (2, 3) and kwargs["kwargs"] == {}
    assert by_name["task_success"]["result"] == 5
    assert by_name["task_postrun"]["retval"] == 5
    assert by_name["task_postrun"]["state"] == SUCCESS


async def test_failure_sends_task_failure_with_the_exception(rt: Runtime, hooks: Receivers) -> None:
    """A task that fails for good: task_failure with the exception, its traceback and the
    formatted one, then task_postrun with state FAILURE."""

    @rt.task(name="sig.boom", max_retries=0)
    def boom(n: int) -> None:
        raise ValueError(f"boom {n}")

    seen = record(hooks)
    result = await boom.delay(7)
    await run_burst(rt)
    with pytest.raises(TaskFailed):
        await result.get(timeout=10)
    names = [name for name, _ in seen]
    assert names[2:] == ["task_prerun", "task_failure", "task_postrun"]
    failure = dict(seen)["task_failure"]
    assert isinstance(failure["exception"], ValueError)
    assert str(failure["exception"]) == "boom 7"
    assert failure["traceback"] is failure["exception"].__traceback__
    assert "boom 7" in failure["einfo"]
    assert failure["task_id"] == result.id and failure["args"] == (7,)
    postrun = dict(seen)["task_postrun"]
    assert postrun["state"] == FAILURE and postrun["retval"] is failure["exception"]


async def test_retry_sends_task_retry_and_its_headers_reach_the_next_attempt(
    rt: Runtime, hooks: Receivers
) -> None:
    """A task retried once: prerun, retry, postrun(RETRY), prerun, success, postrun(SUCCESS);
    a header a task_retry receiver adds is on the next attempt's request."""
    attempts: list[dict[str, Any]] = []

    @rt.task(name="sig.flaky", bind=True)
    def flaky(self: Task) -> int:
        attempts.append(dict(self.request.headers))
        if self.request.retries == 0:
            raise self.retry(exc=ConnectionError("try again"), countdown=0)
        return self.request.retries

    seen = record(hooks)
    hooks.connect(signals.task_retry, lambda headers, **_: headers.update(retried="yes"))
    result = await flaky.delay()
    await run_burst(rt)
    assert await result.get(timeout=10) == 1
    assert [name for name, _ in seen][2:] == [
        "task_prerun",
        "task_retry",
        "task_postrun",
        "task_prerun",
        "task_success",
        "task_postrun",
    ]
    retry = dict(seen)["task_retry"]
    assert isinstance(retry["reason"], ConnectionError)
    assert retry["countdown"] == 0
    assert retry["request"].retries == 0
    assert "try again" in retry["einfo"]
    states = [kwargs["state"] for name, kwargs in seen if name == "task_postrun"]
    assert states == [RETRY, SUCCESS]
    assert attempts == [{}, {"retried": "yes"}]


async def test_a_raising_receiver_is_logged_and_the_task_still_succeeds(
    rt: Runtime, hooks: Receivers
) -> None:
    """Receivers that raise on publish, prerun, success and postrun: each is logged with the
    task's id and name; the send and the task succeed."""

    @rt.task(name="sig.fine")
    def fine() -> str:
        return "fine"

    def broken(**_: Any) -> None:
        raise RuntimeError("receiver bug")

    for sig in TASK_SIGNALS:
        hooks.connect(sig, broken)
    with capture_logs() as logs:
        result = await fine.delay()
        await run_burst(rt)
    assert await result.get(timeout=10) == "fine"
    failed = [e for e in logs if e["event"] == "signal_receiver_failed"]
    assert [e["signal"] for e in failed] == [
        "before_task_publish",
        "after_task_publish",
        "task_prerun",
        "task_success",
        "task_postrun",
    ]
    assert all(e["task_id"] == result.id and e["task_name"] == "sig.fine" for e in failed)


async def test_before_task_publish_can_add_a_header_the_task_sees(
    rt: Runtime, hooks: Receivers
) -> None:
    """A header added by a before_task_publish receiver is in ``self.request.headers``; one
    for another task's name does not run."""

    @rt.task(name="sig.headers", bind=True)
    def headers(self: Task) -> dict[str, Any]:
        return dict(self.request.headers)

    def tenant(headers: dict[str, Any], **_: Any) -> None:
        headers["tenant"] = "acme"

    hooks.connect(signals.before_task_publish, tenant, sender="sig.headers")
    hooks.connect(
        signals.before_task_publish,
        lambda headers, **_: headers.update(other=True),
        sender="sig.elsewhere",
    )
    result = await headers.apply_async(headers={"given": 1})
    await run_burst(rt)
    assert await result.get(timeout=10) == {"given": 1, "tenant": "acme"}


async def test_async_receivers_are_awaited_in_the_task_context(
    rt: Runtime, hooks: Receivers
) -> None:
    """Async receivers are awaited: an async prerun receiver finishes before the task runs,
    and send_many sends the publish signals for every message."""
    order: list[str] = []

    @rt.task(name="sig.ordered")
    async def ordered(n: int) -> int:
        order.append(f"run {n}")
        return n

    async def before_run(args: tuple[Any, ...], **_: Any) -> None:
        await asyncio.sleep(0.01)
        order.append(f"prerun {args[0]}")

    async def published(task_id: str, **_: Any) -> None:
        await asyncio.sleep(0)
        order.append("published")

    hooks.connect(signals.task_prerun, before_run)
    hooks.connect(signals.after_task_publish, published)
    results = await rt.send_many([ordered.s(1), ordered.s(2)])
    assert order == ["published", "published"]
    await Worker(rt, ["default"], 1, burst=True).run()
    assert [await r.get(timeout=10) for r in results] == [1, 2]
    assert order[2:] == ["prerun 1", "run 1", "prerun 2", "run 2"]


async def test_worker_ready_and_worker_shutdown(rt: Runtime, hooks: Receivers) -> None:
    """worker_ready comes before the first task runs and worker_shutdown after the last,
    both with the Worker as sender."""
    order: list[tuple[str, Any]] = []

    @rt.task(name="sig.noop")
    def noop() -> None:
        order.append(("run", None))

    hooks.connect(signals.worker_ready, lambda sender, **_: order.append(("ready", sender)))
    hooks.connect(signals.worker_shutdown, lambda sender, **_: order.append(("shutdown", sender)))
    await noop.delay()
    worker = await run_burst(rt)
    assert order == [("ready", worker), ("run", None), ("shutdown", worker)]


async def test_the_scheduler_sends_the_publish_signals(rt: Runtime, hooks: Receivers) -> None:
    """A beat tick is published like a send: before/after publish, and a header a receiver
    adds reaches the task beside the scheduler's own."""
    published: list[str] = []
    fired = asyncio.Event()

    @rt.task(name="sig.beat", bind=True)
    def beat(self: Task) -> dict[str, Any]:
        return dict(self.request.headers)

    def before(headers: dict[str, Any], **_: Any) -> None:
        headers["traced"] = "yes"

    def after(task_id: str, **_: Any) -> None:
        published.append(task_id)
        fired.set()

    hooks.connect(signals.before_task_publish, before, sender="sig.beat")
    hooks.connect(signals.after_task_publish, after, sender="sig.beat")
    rt.conf.update(beat_schedule={"b": {"task": "sig.beat", "schedule": 1}})
    scheduler = Scheduler(rt)
    running = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(fired.wait(), 20)
    finally:
        scheduler.stop()
        await asyncio.wait_for(running, 10)
    await run_burst(rt)
    headers = await rt.AsyncResult(published[0]).get(timeout=10)
    assert headers["traced"] == "yes"
    assert headers["beat_entry"] == "b" and "scheduled_for" in headers
