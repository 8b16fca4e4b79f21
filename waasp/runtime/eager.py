"""Eager mode (``conf.task_always_eager``): a sent task runs here and now, as a worker would
run it, and its result is held in memory.

The worker's own ``Executor`` runs each attempt, so retries (``self.retry``, ``autoretry_for``
with backoff), time limits, ``self.request`` and the stored error are the worker's. What a
worker would settle in Redis is read instead: a retry runs the next attempt at once (its
countdown is not slept, as in Celery), a failure or a dead letter ends in a FAILURE result.
Nothing touches Redis. A plain ``def`` task runs in a thread, as on a worker, so its hard
time limit can abandon it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from waasp.runtime.broker import RawDelivery
from waasp.runtime.errors import NotRegistered
from waasp.runtime.message import ResultRecord, TaskMessage, encode_message
from waasp.runtime.results import EagerResult
from waasp.runtime.states import RETRY, SUCCESS
from waasp.runtime.task import Task, TaskRegistry
from waasp.runtime.worker.executor import Executor
from waasp.runtime.worker.outcomes import Outcome
from waasp.runtime.worker.threads import TaskThreads

EAGER_WORKER = "eager"  # the worker name in ``self.request.hostname`` and in the record


class _EagerExecutor(Executor):
    """The worker's executor, keeping the value of an ``ignore_result`` task too: the caller
    holds the handle in memory (Celery's eager results do the same)."""

    def _succeeded(
        self, task: Task, message: TaskMessage, delivery: RawDelivery, result: Any, started: float
    ) -> Outcome:
        outcome = super()._succeeded(task, message, delivery, result, started)
        if outcome.record is not None or outcome.state != SUCCESS:
            return outcome
        meta = self._meta(
            message, delivery, SUCCESS, result=result, started_at=started, date_done=time.time()
        )
        return replace(outcome, record=ResultRecord(meta))


async def run_eagerly(runtime: TaskRegistry, message: TaskMessage) -> EagerResult[Any]:
    """Run ``message`` here, every retry included, and return its held result.

    Raise NotRegistered at once if no task has its name (a worker would dead-letter it), and
    TaskFailed if it fails while ``conf.task_eager_propagates`` is set.
    """
    if message.task not in runtime.tasks:
        raise NotRegistered(f"task {message.task!r} is not registered")
    threads = TaskThreads(1, prefix="waasp-eager")
    executor = _EagerExecutor(
        runtime, EAGER_WORKER, threads, on_started=lambda meta: None, on_progress=lambda meta: None
    )
    try:
        attempt = 0
        while True:
            attempt += 1
            # encode_message checks the arguments are JSON, as sending would; the executor
            # decodes them, so the task gets them as a worker would (tuples become lists).
            delivery = RawDelivery(message.queue, f"0-{attempt}", encode_message(message))
            outcome = await executor.run(delivery)
            if outcome.state == RETRY and outcome.op.next_attempt is not None:
                message = outcome.op.next_attempt
                await asyncio.sleep(0)  # a task that retries for ever still lets others run
                continue
            break
    finally:
        threads.shutdown()
    # Every outcome of a decodable message carries its record (see _EagerExecutor).
    assert outcome.record is not None
    result: EagerResult[Any] = EagerResult(outcome.record.meta)
    if runtime.conf.task_eager_propagates:
        await result.get()  # raises TaskFailed on FAILURE, as get() would later
    return result
