"""What a worker does after a workflow step ends, before it acknowledges the step.

- A chain step that succeeded sends the next step with its result; one that failed for good
  writes FAILURE, with its error, on every step after it (the chain's handle is the last).
- A chord member that succeeded is counted with its result (``lua/chord_done.lua``); the one
  that finds every member done sends the callback with their results in order. One that
  failed for good marks the chord failed: the callback's record says FAILURE (``ChordError``).

Everything here is idempotent, because it happens before the acknowledgement: a worker that
dies halfway has the step redelivered and done again. Members count once however often they
are redelivered, and the callback, like every step, has its task id fixed when the workflow
was applied, so sending it again enqueues nothing.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Outages
from waasp.runtime.errors import ChordError
from waasp.runtime.message import (
    DecodeError,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    decode_value,
    encode_value,
)
from waasp.runtime.states import FAILURE, SUCCESS
from waasp.runtime.workflow import (
    CHAIN,
    CHORD,
    ChordMembership,
    FlowHost,
    Step,
    send_step,
    steps_from_header,
)

if TYPE_CHECKING:
    from waasp.runtime.worker.outcomes import Outcome

log = structlog.get_logger("waasp.runtime.worker.flow")

CHORD_ERROR = f"{ChordError.__module__}.{ChordError.__qualname__}"


def in_workflow(message: TaskMessage) -> bool:
    """Tell whether ``message`` is a step of a chain or a member of a chord."""
    return CHAIN in message.headers or CHORD in message.headers


class Flow:
    """Moves the workflows of one worker's tasks on."""

    def __init__(self, runtime: FlowHost, outages: Outages | None = None) -> None:
        self.runtime = runtime
        self.guard = (outages or Outages()).guard("workflow")

    async def advance(self, message: TaskMessage, outcome: Outcome) -> None:
        """Do what follows ``message``'s outcome (nothing unless it succeeded or failed for
        good), retrying through Redis outages: the step stays unacknowledged meanwhile."""
        if outcome.state not in (SUCCESS, FAILURE):
            return
        try:
            chain = steps_from_header(message.headers.get(CHAIN, []))
            member = (
                ChordMembership.from_header(message.headers[CHORD])
                if CHORD in message.headers
                else None
            )
        except DecodeError as exc:
            log.error("workflow_header_malformed", error=str(exc))
            return
        while True:
            try:
                if outcome.state == SUCCESS:
                    await self._succeeded(message, outcome.retval, chain, member)
                else:
                    error = outcome.record.meta.error if outcome.record is not None else None
                    await self._failed(message, error, chain, member)
            except ANY_REDIS_ERROR as exc:
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            return

    async def _succeeded(
        self,
        message: TaskMessage,
        value: Any,
        chain: tuple[Step, ...],
        member: ChordMembership | None,
    ) -> None:
        if chain:
            following = dataclasses.replace(chain[0], chain=chain[1:])
            await send_step(self.runtime, following, (value,))
            log.debug("chain_advanced", next_task=following.task, next_id=following.task_id)
        if member is not None:
            await self._count(message, value, member)

    async def _count(self, message: TaskMessage, value: Any, member: ChordMembership) -> None:
        ttl = self._ttl_ms()
        raw = encode_value(value, f"result of {message.task}")
        results = await self.runtime.broker.chords.member_done(
            member.chord_id, member.index, member.size, raw, ttl
        )
        if results is None:
            return
        values = [decode_value(r) for r in results]
        sent = await send_step(self.runtime, member.callback, (values,))
        log.info("chord_completed", chord_id=member.chord_id, callback_id=sent.id)

    async def _failed(
        self,
        message: TaskMessage,
        error: RemoteError | None,
        chain: tuple[Step, ...],
        member: ChordMembership | None,
    ) -> None:
        error = error or RemoteError("UnknownError", f"task {message.id} failed")
        downstream = [i for step in chain for i in step.own_ids]
        if member is not None:
            chords = self.runtime.broker.chords
            if await chords.fail(member.chord_id, member.size, self._ttl_ms()):
                await self._fail_all(member.callback.ids, _chord_error(message, error))
                log.warning("chord_failed", chord_id=member.chord_id, member=message.id)
        await self._fail_all(downstream, error)

    async def _fail_all(self, task_ids: list[str], error: RemoteError) -> None:
        """Write FAILURE with ``error`` on tasks that will never run."""
        if not task_ids:
            return
        now = time.time()
        records = [
            ResultRecord(TaskMeta(id=i, state=FAILURE, error=error, date_done=now))
            for i in task_ids
        ]
        await self.runtime.results.store_many(records)

    def _ttl_ms(self) -> int:
        return max(int(self.runtime.conf.result_expires * 1000), 1)


def _chord_error(message: TaskMessage, error: RemoteError) -> RemoteError:
    text = f"Dependency {message.id} raised {error.type}: {error.message}"
    return RemoteError(CHORD_ERROR, text, error.traceback)
