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
from typing import Any, TypeAlias

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


# What a chain links: its classes are defined below.
Link: TypeAlias = "Signature | group | chord | chain"


def _links(tasks: tuple[Link | Iterable[Link], ...]) -> tuple[Link, ...]:
    """``chain(a, b)`` or ``chain([a, b])``: signatures, groups, chords and chains."""
    items: Iterable[object] = tasks
    if len(tasks) == 1 and not isinstance(tasks[0], Signature | group | chord | chain):
        items = tasks[0]
    out: list[Link] = []
    for item in items:
        if not isinstance(item, Signature | group | chord | chain):
            raise TypeError(f"a chain takes signatures, groups, chords and chains, not {item!r}")
        out.append(item)
    return tuple(out)


def _flat(links: Iterable[Link]) -> list[Step]:
    """The steps of ``links`` in order, each without what follows it (a chord is its group
    step then its callback's steps)."""
    steps: list[Step] = []
    for link in links:
        if isinstance(link, Signature):
            steps.append(Step.of(link))
        elif isinstance(link, group):
            steps.append(Step.group([Step.of(sig) for sig in link.tasks]))
        elif isinstance(link, chord):
            steps += _flat([link.header, link.callback()])
        else:
            steps += _flat(link.tasks)
    return steps


def _first_signature(link: Link) -> Signature:
    if isinstance(link, Signature):
        return link
    if isinstance(link, chord):
        return _first_signature(link.callback())
    for item in link.tasks:
        return _first_signature(item)
    raise ValueError("an empty group has no task")


class chain:  # lowercase: Celery's name
    """Tasks run one after another, each given the previous one's result as its first
    argument. A failure stops the chain: the tasks after it are not run and their records
    (the chain's handle among them) say FAILURE with the failing task's error. A group in a
    chain runs its members in parallel, each given the previous result, and with the task
    after it forms a chord (as in Celery); a group cannot end a chain."""

    def __init__(self, *tasks: Link | Iterable[Link]) -> None:
        self.tasks = _links(tasks)
        if not self.tasks:
            raise ValueError("a chain needs at least one task")

    def __repr__(self) -> str:
        return " | ".join(repr(link) for link in self.tasks)

    def step(self) -> Step:
        """The first step, with the rest of the chain behind it (ids fixed now)."""
        steps = _flat(self.tasks)
        if steps[-1].members is not None:
            raise ValueError("a chain cannot end with a group: add a callback (a chord)")
        return dataclasses.replace(steps[0], chain=tuple(steps[1:]))

    async def apply_async(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> AsyncResult:
        """Send the first task (``args`` before its own); return the last task's handle."""
        step = _with_kwargs(self.step(), kwargs or {})
        runtime = _runtime(_first_signature(self))
        await send_step(runtime, step, tuple(args))
        return runtime.AsyncResult(step.last_id)

    async def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """``apply_async(args, kwargs)``."""
        return await self.apply_async(args, kwargs)


def _with_kwargs(step: Step, kwargs: Mapping[str, Any]) -> Step:
    """``step`` with more keyword arguments (for a group step, each member's)."""
    if not kwargs:
        return step
    if step.members is not None:
        return dataclasses.replace(
            step, members=tuple(_with_kwargs(m, kwargs) for m in step.members)
        )
    return dataclasses.replace(step, kwargs={**step.kwargs, **kwargs})


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

    def callback(self) -> chain:
        """The callback as a chain (of one task, if it is a signature)."""
        if self.body is None:
            raise ValueError("a chord needs a callback: chord(header, callback)")
        return chain(self.body)

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
        body_chain = chord(self.header, body or self.body).callback()
        callback = body_chain.step()
        runtime = _runtime(_first_signature(body_chain))
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
