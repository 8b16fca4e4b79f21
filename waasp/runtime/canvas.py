"""Workflows with Celery's names: ``chain``, ``group``, ``chord``, and ``GroupResult``.

::

    res = await chain(add.s(1, 2), add.s(3), mul.s(10)).apply_async()   # ((1+2)+3)*10
    await res.get()                                                      # 60: the last task's
    res = await group(add.s(i, i) for i in range(10)).apply_async()     # a GroupResult
    await res.get()                                                      # [0, 2, 4, ...]
    res = await chord((add.s(i, i) for i in range(10)), tsum.s()).apply_async()
    await res.get()                                                      # 90: the callback's

The worker that finishes a step sends what follows (``worker/flow.py``); the message headers
carry the rest of the workflow (``workflow.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from waasp.runtime.app import Runtime
from waasp.runtime.message import new_task_id
from waasp.runtime.results import AsyncResult
from waasp.runtime.states import FAILURE, READY_STATES, SUCCESS
from waasp.runtime.task import Signature
from waasp.runtime.workflow import CHORD, ChordMembership, Step, send_step


def _runtime(sig: Signature) -> Runtime:
    runtime = sig.task.runtime
    if not isinstance(runtime, Runtime):
        raise TypeError(f"{sig.task.name} is not registered on a Runtime")
    return runtime


def _signatures(tasks: tuple[Signature | Iterable[Signature], ...]) -> tuple[Signature, ...]:
    """``f(a, b)`` or ``f([a, b])`` / ``f(generator)``, as Celery takes them."""
    items: Iterable[object] = tasks
    if len(tasks) == 1 and not isinstance(tasks[0], Signature):
        items = tasks[0]
    out: list[Signature] = []
    for sig in items:
        if not isinstance(sig, Signature):
            raise TypeError(f"a workflow takes signatures (task.s(...)), not {sig!r}")
        out.append(sig)
    return tuple(out)


class chain:  # lowercase: Celery's name
    """Tasks run one after another, each given the previous one's result as its first
    argument. A failure stops the chain: the tasks after it are not run and their records
    (the chain's handle among them) say FAILURE with the failing task's error."""

    def __init__(self, *tasks: Signature | Iterable[Signature]) -> None:
        self.tasks = _signatures(tasks)
        if not self.tasks:
            raise ValueError("a chain needs at least one task")

    def __repr__(self) -> str:
        return " | ".join(repr(sig.task) for sig in self.tasks)

    def step(self) -> Step:
        """The first task, with the rest of the chain behind it (ids fixed now)."""
        rest = [Step.of(sig) for sig in self.tasks[1:]]
        return Step.of(self.tasks[0], rest)

    async def apply_async(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> AsyncResult:
        """Send the first task (``args`` before its own); return the last task's handle."""
        step = self.step()
        if kwargs:
            step = dataclasses.replace(step, kwargs={**step.kwargs, **kwargs})
        runtime = _runtime(self.tasks[0])
        await send_step(runtime, step, tuple(args))
        return runtime.AsyncResult(step.last_id)

    async def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """``apply_async(args, kwargs)``."""
        return await self.apply_async(args, kwargs)


class group:  # lowercase: Celery's name
    """Tasks run in parallel; their results are read together, in order."""

    def __init__(self, *tasks: Signature | Iterable[Signature]) -> None:
        self.tasks = _signatures(tasks)

    def __repr__(self) -> str:
        return f"group({list(self.tasks)!r})"

    def __len__(self) -> int:
        return len(self.tasks)

    async def apply_async(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> GroupResult:
        """Send every task (``args`` before each one's own), in one round trip per 1,000;
        members with a ``countdown`` (which ``send_many`` does not take) one by one."""
        if not self.tasks:
            return GroupResult(new_task_id(), [])
        signatures = [
            Signature(sig.task, (*args, *sig.args), {**sig.kwargs, **(kwargs or {})}, sig.options)
            for sig in self.tasks
        ]
        at_once = [sig for sig in signatures if sig.options.get("countdown") is None]
        sent = iter(await _runtime(self.tasks[0]).send_many(at_once))
        results = [
            next(sent) if sig.options.get("countdown") is None else await sig.delay()
            for sig in signatures
        ]
        return GroupResult(new_task_id(), results)

    async def delay(self, *args: Any, **kwargs: Any) -> GroupResult:
        """``apply_async(args, kwargs)``."""
        return await self.apply_async(args, kwargs)


class chord:  # lowercase: Celery's name
    """A group whose callback runs once, exactly once, when every member has finished,
    given their results in order. If a member fails for good, the callback never runs and
    its record says FAILURE (``ChordError``). ``chord(header, body)`` or ``chord(header)(body)``.
    """

    def __init__(
        self,
        header: group | Iterable[Signature],
        body: Signature | chain | None = None,
    ) -> None:
        self.header = header if isinstance(header, group) else group(header)
        self.body = body

    def __repr__(self) -> str:
        return f"chord({self.header!r}, {self.body!r})"

    async def __call__(self, body: Signature | chain | None = None) -> AsyncResult:
        """Celery's ``chord(header)(callback)``: apply it with this callback."""
        return await self.apply_async(body=body)

    async def apply_async(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        body: Signature | chain | None = None,
    ) -> AsyncResult:
        """Send the members; return the callback's handle (of the last task, if the callback
        is a chain)."""
        body = body or self.body
        if body is None:
            raise ValueError("a chord needs a callback: chord(header, callback)")
        callback = body.step() if isinstance(body, chain) else Step.of(body)
        first = body.tasks[0] if isinstance(body, chain) else body
        runtime = _runtime(first)
        size = len(self.header)
        if size == 0:  # as Celery: nothing to wait for, the callback runs at once with []
            await send_step(runtime, callback, ([],))
            return runtime.AsyncResult(callback.last_id)
        chord_id = new_task_id()
        members = [
            sig.set(headers={CHORD: ChordMembership(chord_id, i, size, callback).as_header()})
            for i, sig in enumerate(self.header.tasks)
        ]
        await group(members).apply_async(args, kwargs)
        return runtime.AsyncResult(callback.last_id)

    async def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """``apply_async(args, kwargs)``."""
        return await self.apply_async(args, kwargs)


class GroupResult:
    """The handles of a group's tasks, read together."""

    def __init__(self, group_id: str, results: Sequence[AsyncResult]) -> None:
        self.id = group_id
        self.results = list(results)

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{len(self.results)} tasks]>"

    def __len__(self) -> int:
        return len(self.results)

    async def _states(self) -> list[str]:
        return [str(s) for s in await asyncio.gather(*(r.state() for r in self.results))]

    async def ready(self) -> bool:
        """Tell whether every task has finished (SUCCESS or FAILURE)."""
        return all(state in READY_STATES for state in await self._states())

    async def successful(self) -> bool:
        """Tell whether every task succeeded."""
        return all(state == SUCCESS for state in await self._states())

    async def failed(self) -> bool:
        """Tell whether any task failed."""
        return any(state == FAILURE for state in await self._states())

    async def completed_count(self) -> int:
        """How many tasks succeeded (Celery's count)."""
        return sum(state == SUCCESS for state in await self._states())

    async def get(self, timeout: float | None = None, propagate: bool = True) -> list[Any]:
        """Wait for every task; their values in order (raises the first failure's
        TaskFailed unless ``propagate=False``, which puts its error in its place)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for result in self.results:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            values.append(await result.get(timeout=left, propagate=propagate))
        return values

    async def forget(self) -> None:
        """Delete every task's record."""
        for result in self.results:
            await result.forget()
