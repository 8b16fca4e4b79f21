"""Signals without Redis: connecting, sender filters, sync and async receivers, failures."""

from __future__ import annotations

import asyncio
from typing import Any

from structlog.testing import capture_logs

from waasp.runtime import signals
from waasp.runtime.signals import Signal, SignalGroup


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_connect_as_decorator_and_disconnect() -> None:
    """``@signal.connect`` registers once; ``disconnect`` removes it and says so."""
    sig = Signal("demo")
    heard: list[dict[str, Any]] = []

    @sig.connect
    def receiver(**kwargs: Any) -> str:
        heard.append(kwargs)
        return "ok"

    sig.connect(receiver)  # the same pair twice is one receiver
    assert sig.send("me", value=1) == [(receiver, "ok")]
    assert heard == [{"sender": "me", "signal": sig, "value": 1}]
    assert sig.disconnect(receiver)
    assert not sig.disconnect(receiver)
    assert sig.send("me") == []
    assert sig.receivers == []


def test_sender_filter_by_task_name_or_object() -> None:
    """``sender="name"`` hears only the task of that name; an object filter only that object."""
    sig = Signal("demo")
    add, mul = _Named("tasks.add"), _Named("tasks.mul")
    by_name: list[Any] = []
    by_object: list[Any] = []
    sig.connect(lambda sender, **_: by_name.append(sender), sender="tasks.add")
    sig.connect(lambda sender, **_: by_object.append(sender), sender=mul)
    sig.send(add)
    sig.send(mul)
    sig.send("tasks.add")  # publish signals send the name itself
    assert by_name == [add, "tasks.add"]
    assert by_object == [mul]


async def test_asend_awaits_async_receivers_in_order() -> None:
    """``asend`` calls sync and async receivers in connection order, awaiting the async."""
    sig = Signal("demo")
    order: list[str] = []

    async def first(**_: Any) -> int:
        await asyncio.sleep(0)
        order.append("first")
        return 1

    def second(**_: Any) -> int:
        order.append("second")
        return 2

    sig.connect(first)
    sig.connect(second)
    assert await sig.asend(None) == [(first, 1), (second, 2)]
    assert order == ["first", "second"]


async def test_a_raising_receiver_is_logged_and_the_rest_still_run() -> None:
    """A receiver's exception is logged with the task's id and name, and returned, not raised."""
    sig = Signal("demo")
    task = _Named("tasks.add")
    after: list[bool] = []

    def broken(**_: Any) -> None:
        raise RuntimeError("receiver bug")

    async def broken_async(**_: Any) -> None:
        raise ValueError("async receiver bug")

    sig.connect(broken)
    sig.connect(broken_async)
    sig.connect(lambda **_: after.append(True))
    with capture_logs() as logs:
        responses = await sig.asend(task, task_id="t-1", task=task)
    assert isinstance(responses[0][1], RuntimeError)
    assert isinstance(responses[1][1], ValueError)
    assert after == [True]
    failed = [e for e in logs if e["event"] == "signal_receiver_failed"]
    assert [e["task_id"] for e in failed] == ["t-1", "t-1"]
    assert {e["task_name"] for e in failed} == {"tasks.add"}
    assert all(e["signal"] == "demo" and e["exc_info"] for e in failed)


async def test_send_schedules_async_receivers_on_the_running_loop() -> None:
    """From sync code inside a loop, an async receiver runs as a task; its error is logged."""
    sig = Signal("demo")
    done = asyncio.Event()

    async def receiver(**_: Any) -> None:
        done.set()
        raise RuntimeError("late")

    sig.connect(receiver)
    with capture_logs() as logs:
        [(_, task)] = sig.send(None)
        assert isinstance(task, asyncio.Task)
        await asyncio.wait_for(done.wait(), 10)
        await task
    assert [e["event"] for e in logs] == ["signal_receiver_failed"]


def test_send_without_a_loop_runs_async_receivers_to_completion() -> None:
    """From sync code with no loop running, an async receiver is run to its end."""
    sig = Signal("demo")

    async def receiver(**_: Any) -> str:
        await asyncio.sleep(0)
        return "done"

    sig.connect(receiver)
    assert sig.send(None) == [(receiver, "done")]


def test_a_group_is_one_bool_for_its_members() -> None:
    """``SignalGroup.connected`` follows its members' receivers."""
    group = SignalGroup()
    one, two = Signal("one", group=group), Signal("two", group=group)

    def receiver(**_: Any) -> None:
        return None

    assert not group.connected
    one.connect(receiver)
    two.connect(receiver)
    one.disconnect(receiver)
    assert group.connected
    two.disconnect(receiver)
    assert not group.connected


def test_the_runtime_exports_celerys_signal_names() -> None:
    """Every Celery name the runtime sends exists as a Signal of that name."""
    names = [
        "task_prerun",
        "task_postrun",
        "task_success",
        "task_failure",
        "task_retry",
        "task_revoked",
        "before_task_publish",
        "after_task_publish",
        "worker_ready",
        "worker_shutdown",
    ]
    for name in names:
        sig = getattr(signals, name)
        assert isinstance(sig, Signal) and sig.name == name
