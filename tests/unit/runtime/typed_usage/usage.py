"""Typed use of the runtime, checked by mypy in test_typed_tasks.py (never run, never imported).

``# E: code`` marks a line where mypy must report that error code; ``# R: type`` marks a
``reveal_type`` whose revealed type must be that text (a mark alone on its line is the next
line's). Every other line must pass.
"""

from __future__ import annotations

from typing import Any, reveal_type

from waasp.runtime import AsyncResult, Runtime, Signature, Task

runtime = Runtime("typed")


@runtime.task
async def add(x: int, y: int) -> int:
    """An async task."""
    return x + y


@runtime.task
def shout(text: str, *, times: int = 1) -> str:
    """A sync task with a keyword-only parameter."""
    return text.upper() * times


@runtime.task(queue="high", max_retries=5)
async def fetch(url: str) -> dict[str, Any]:
    """A task registered with options."""
    return {"url": url}


@runtime.task(bind=True, max_retries=3)
async def bound(self: Task, item_id: int) -> list[int]:
    """A bound async task: its first parameter is the task."""
    return [item_id, self.request.retries]


@runtime.task(bind=True)
def bound_sync(self: Task, item_id: int) -> float:
    """A bound sync task."""
    return float(item_id)


async def correct() -> None:
    """Calls that type-check."""
    # R: waasp.runtime.task.Task[[x: int, y: int], int, typing.Coroutine[Any, Any, int]]
    reveal_type(add)
    reveal_type(await add.delay(1, 2))  # R: waasp.runtime.results.AsyncResult[int]
    reveal_type(await (await add.delay(1, y=2)).get())  # R: int
    reveal_type(await (await shout.delay("a", times=2)).get(timeout=5))  # R: str
    reveal_type(await (await fetch.delay("u")).get())  # R: dict[str, Any]
    reveal_type(await (await bound.delay(7)).get())  # R: list[int]
    reveal_type(await (await bound_sync.delay(7)).get())  # R: float
    reveal_type(await (await add.apply_async((1, 2), countdown=5)).get())  # R: int
    reveal_type(add.s(1))  # R: waasp.runtime.task.Signature[int]
    # R: waasp.runtime.results.AsyncResult[int]
    reveal_type(await add.s(1, 2).set(queue="x").delay())
    reveal_type(add.__call__)  # R: def (x: int, y: int) -> typing.Coroutine[Any, Any, int]
    reveal_type(await add(1, 2))  # R: int
    reveal_type(shout("a"))  # R: str
    reveal_type(bound.__call__)  # R: def (item_id: int) -> typing.Coroutine[Any, Any, list[int]]
    # R: int | waasp.runtime.message.RemoteError | None
    reveal_type(await (await add.delay(1, 2)).get(propagate=False))
    reveal_type(runtime.AsyncResult("id"))  # R: waasp.runtime.results.AsyncResult[Any]
    reveal_type(await runtime.send_task("add", (1, 2)))  # R: waasp.runtime.results.AsyncResult[Any]
    any_task: Task = add  # a bare Task is any task
    any_result: AsyncResult = await add.delay(1, 2)
    signature: Signature[int] = add.s(1, 2)
    total: int = await (await add.delay(1, 2)).get()
    del any_task, any_result, signature, total


async def wrong() -> None:
    """Calls that must not type-check."""
    await add.delay(1, "2")  # E: arg-type
    await add.delay(1)  # E: call-arg
    await add.delay(1, 2, 3)  # E: call-arg
    await add.delay(1, z=2)  # E: call-arg
    await shout.delay("a", 2)  # E: call-arg
    await bound.delay("7")  # E: arg-type
    await bound_sync.delay(bound_sync, 7)  # E: call-arg, arg-type
    text: str = await (await add.delay(1, 2)).get()  # E: assignment
    number: int = await (await shout.delay("a")).get()  # E: assignment
    signature: Signature[str] = add.s(1, 2)  # E: assignment
    del text, number, signature
    shout(3)  # E: arg-type
    await add.delay(1, 2).get()  # E: attr-defined
