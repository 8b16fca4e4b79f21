"""Workflows on the wire: the steps of a chain and the membership of a chord, as they travel
in a task message's headers, and how a step is sent.

A chain ``a | b | c`` is sent as ``a`` with the header ``chain: [b, c]``; when ``a`` succeeds,
its worker sends ``b`` (``a``'s result first among its arguments) with ``chain: [c]``, before
it acknowledges ``a``. Every step's task id is chosen when the workflow is applied, so the
chain's handle is known at once and a step re-sent by a redelivery (its worker died after
sending, before acknowledging) is enqueued once: an explicit task id sends once.

A chord member carries ``chord: {id, index, size, callback}``; see ``worker/flow.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from waasp.runtime.message import DecodeError, new_task_id
from waasp.runtime.task import Signature, TaskHost

if TYPE_CHECKING:
    from waasp.runtime.broker import Broker, ResultBackend
    from waasp.runtime.results import AsyncResult


class FlowHost(TaskHost, Protocol):
    """What moving a workflow on needs of the runtime (``Runtime`` is one)."""

    @property
    def broker(self) -> Broker:
        """The broker client."""

    @property
    def results(self) -> ResultBackend:
        """The result backend client."""

    def AsyncResult(self, task_id: str) -> AsyncResult[Any]:
        """A handle on the task with this id."""


CHAIN = "chain"
CHORD = "chord"
# Options a workflow step may carry (``sig.set(...)``); any other is refused when it is built.
STEP_OPTIONS = frozenset({"task_id", "queue", "countdown"})


@dataclass(frozen=True, slots=True)
class Step:
    """One task of a workflow, with its id fixed and the steps that follow it."""

    task: str
    task_id: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str | None = None
    countdown: float | None = None
    chain: tuple[Step, ...] = ()  # each gets the previous step's result as first argument
    # A group inside a chain (not None, then ``task`` is empty and ``task_id`` is the chord's
    # id): its members run in parallel, each given the previous result, and the step after
    # it is their chord's callback.
    members: tuple[Step, ...] | None = None

    @classmethod
    def group(cls, members: Sequence[Step]) -> Step:
        """A group step (it must be followed by a step: its callback)."""
        return cls(task="", task_id=new_task_id(), members=tuple(members))

    @classmethod
    def of(cls, sig: Signature, chain: Sequence[Step] = ()) -> Step:
        """The step of ``sig`` (its ``task_id`` option, or a new id)."""
        unknown = set(sig.options) - STEP_OPTIONS
        if unknown:
            raise ValueError(
                f"option(s) {sorted(unknown)} not supported in a workflow step "
                f"(use {sorted(STEP_OPTIONS)})"
            )
        countdown = sig.options.get("countdown")
        return cls(
            task=sig.task.name,
            task_id=str(sig.options.get("task_id") or new_task_id()),
            args=tuple(sig.args),
            kwargs=dict(sig.kwargs),
            queue=sig.options.get("queue"),
            countdown=None if countdown is None else float(countdown),
            chain=tuple(chain),
        )

    @property
    def last_id(self) -> str:
        """The id of the chain's last task: the handle of the whole chain."""
        return self.chain[-1].task_id if self.chain else self.task_id

    @property
    def own_ids(self) -> list[str]:
        """The ids of its task, or of a group's members."""
        if self.members is None:
            return [self.task_id]
        return [i for member in self.members for i in member.own_ids]

    @property
    def ids(self) -> list[str]:
        """The ids of its own tasks and of the steps that follow."""
        return [*self.own_ids, *(i for step in self.chain for i in step.own_ids)]

    def as_header(self) -> dict[str, Any]:
        """The JSON-ready form carried in message headers."""
        data: dict[str, Any] = {"task": self.task, "task_id": self.task_id, "args": list(self.args)}
        if self.kwargs:
            data["kwargs"] = dict(self.kwargs)
        if self.queue is not None:
            data["queue"] = self.queue
        if self.countdown is not None:
            data["countdown"] = self.countdown
        if self.chain:
            data[CHAIN] = [step.as_header() for step in self.chain]
        if self.members is not None:
            data["members"] = [step.as_header() for step in self.members]
        return data

    @classmethod
    def from_header(cls, data: object) -> Step:
        """Parse ``as_header``'s form; DecodeError if it is malformed."""
        if not isinstance(data, dict):
            raise DecodeError("workflow step is not an object")
        task, task_id = data.get("task"), data.get("task_id")
        args, kwargs = data.get("args", []), data.get("kwargs", {})
        queue, countdown = data.get("queue"), data.get("countdown")
        if not (isinstance(task, str) and isinstance(task_id, str) and isinstance(args, list)):
            raise DecodeError("workflow step lacks its task, task_id or args")
        if not isinstance(kwargs, dict) or not isinstance(queue, str | None):
            raise DecodeError("workflow step has malformed kwargs or queue")
        if countdown is not None and (
            not isinstance(countdown, int | float) or isinstance(countdown, bool)
        ):
            raise DecodeError("workflow step has a malformed countdown")
        return cls(
            task=task,
            task_id=task_id,
            args=tuple(args),
            kwargs=kwargs,
            queue=queue,
            countdown=countdown,
            chain=steps_from_header(data.get(CHAIN, [])),
            members=steps_from_header(data["members"]) if "members" in data else None,
        )


def steps_from_header(data: object) -> tuple[Step, ...]:
    """The steps of a ``chain`` header; DecodeError if it is malformed."""
    if not isinstance(data, list):
        raise DecodeError("workflow chain is not a list")
    return tuple(Step.from_header(item) for item in data)


@dataclass(frozen=True, slots=True)
class ChordMembership:
    """What a chord member knows of its chord: its id, the member's place, the callback."""

    chord_id: str
    index: int
    size: int
    callback: Step

    def as_header(self) -> dict[str, Any]:
        """The JSON-ready form carried in the member's message headers."""
        return {
            "id": self.chord_id,
            "index": self.index,
            "size": self.size,
            "callback": self.callback.as_header(),
        }

    @classmethod
    def from_header(cls, data: object) -> ChordMembership:
        """Parse ``as_header``'s form; DecodeError if it is malformed."""
        if not isinstance(data, dict):
            raise DecodeError("chord header is not an object")
        chord_id, index, size = data.get("id"), data.get("index"), data.get("size")
        if not (isinstance(chord_id, str) and isinstance(index, int) and isinstance(size, int)):
            raise DecodeError("chord header lacks its id, index or size")
        if not 0 <= index < size:
            raise DecodeError("chord member index out of range")
        return cls(chord_id, index, size, Step.from_header(data.get("callback")))


async def send_step(
    runtime: FlowHost,
    step: Step,
    first: tuple[Any, ...] = (),
    headers: Mapping[str, Any] | None = None,
) -> AsyncResult:
    """Send ``step`` with ``first`` before its own arguments, and its chain in the headers;
    return the handle of its chain's last task."""
    if step.members is not None:
        return await _send_chord(runtime, step, first)
    extra = dict(headers or {})
    if step.chain:
        extra[CHAIN] = [s.as_header() for s in step.chain]
    return await runtime.send_task(
        step.task,
        (*first, *step.args),
        step.kwargs,
        queue=step.queue,
        task_id=step.task_id,
        countdown=step.countdown,
        headers=extra or None,
    )


async def _send_chord(runtime: FlowHost, step: Step, first: tuple[Any, ...]) -> AsyncResult:
    """Send a group step's members, each with ``first`` and its chord membership (the step
    after the group is the callback); one by one, each with its fixed id, so a redelivered
    step that sends them again enqueues none twice."""
    if not step.chain:
        raise ValueError("a group inside a chain must be followed by a task (its callback)")
    callback = dataclasses.replace(step.chain[0], chain=step.chain[1:])
    members = step.members or ()
    if not members:  # as Celery: nothing to wait for, the callback runs at once with []
        return await send_step(runtime, callback, ([],))
    for index, member in enumerate(members):
        membership = ChordMembership(step.task_id, index, len(members), callback)
        await send_step(runtime, member, first, {CHORD: membership.as_header()})
    return runtime.AsyncResult(callback.last_id)
