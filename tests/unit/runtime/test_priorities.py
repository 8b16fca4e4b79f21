"""Priorities are checked where they are given (no Redis is reached): an int 0..9, lower
first, the task's own by default; the message carries one other than 0 as its first field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from waasp.runtime import Runtime
from waasp.runtime.message import DecodeError, TaskMessage, decode_message, encode_message
from waasp.runtime.priorities import check_priority

# A URL nothing listens on: a send that got as far as Redis would fail, not pass.
NOWHERE = "redis://127.0.0.1:1/0"


@pytest.fixture
def runtime() -> Runtime:
    """A runtime that never reaches Redis in these tests."""
    return Runtime("unit", broker_url=NOWHERE, environ={})


BAD: list[tuple[Any, type[Exception]]] = [
    (12, ValueError),
    (-1, ValueError),
    (10, ValueError),
    (1.5, TypeError),
    ("x", TypeError),
    ("3", TypeError),
    (True, TypeError),
    (False, TypeError),
]


@pytest.mark.parametrize(("value", "error"), BAD)
def test_bad_priorities_are_refused(value: Any, error: type[Exception]) -> None:
    """Anything but an int from 0 to 9 raises, with a message that says what is allowed."""
    with pytest.raises(error, match="priority"):
        check_priority(value)


def test_good_priorities_pass() -> None:
    """Every int from 0 to 9 is a priority."""
    assert [check_priority(p) for p in range(10)] == list(range(10))


async def _apply_async(runtime: Runtime, value: Any) -> object:
    return await runtime.task(name="t")(lambda: None).apply_async(priority=value)


async def _send_many(runtime: Runtime, value: Any) -> object:
    task = runtime.task(name="t")(lambda: None)
    return await runtime.send_many([task.s().set(priority=value)])


async def _decorate(runtime: Runtime, value: Any) -> object:
    return runtime.task(priority=value)(lambda: None)


@pytest.mark.parametrize(("value", "error"), BAD)
@pytest.mark.parametrize("give", [_apply_async, _send_many, _decorate])
async def test_every_way_of_giving_a_priority_refuses_bad_ones(
    runtime: Runtime, give: Callable[[Runtime, Any], Awaitable[object]], value: Any, error: type
) -> None:
    """``apply_async(priority=)``, a signature's option in ``send_many`` and
    ``@runtime.task(priority=)`` raise before anything is sent."""
    with pytest.raises(error, match="priority"):
        await give(runtime, value)


def test_a_message_takes_the_task_priority_unless_given_one(runtime: Runtime) -> None:
    """A task's own priority is the default of its sends; an explicit one wins; others get 0."""
    task = runtime.task(priority=4, name="own")(lambda: None)
    assert runtime.build_message("own", task=task).priority == 4
    assert runtime.build_message("own").priority == 4  # by name
    assert runtime.build_message("own", task=task, priority=0).priority == 0
    assert runtime.build_message("unknown").priority == 0


def test_a_priority_is_the_first_field_and_round_trips() -> None:
    """A priority other than 0 leads the encoded message (the promoter reads it there);
    priority 0 is left out, so plain messages are unchanged."""
    message = TaskMessage(id="i", task="t", kwargs={"priority": 1}, priority=7)
    raw = encode_message(message)
    assert raw.startswith(b'{"priority":7,')
    assert decode_message(raw) == message
    plain = encode_message(TaskMessage(id="i", task="t"))
    assert b"priority" not in plain
    assert decode_message(plain).priority == 0


@pytest.mark.parametrize("value", [10, -1, "1", 1.0, True, None])
def test_a_message_with_a_bad_priority_does_not_decode(value: Any) -> None:
    """A message whose priority is not an int 0..9 is malformed."""
    data = orjson.loads(encode_message(TaskMessage(id="i", task="t")))
    with pytest.raises(DecodeError):
        decode_message(orjson.dumps({**data, "priority": value}))
