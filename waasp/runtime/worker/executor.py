"""Run one delivery and decide how it leaves the queue: success, retry, failure, dead letter."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from waasp.runtime.backoff import exponential_backoff
from waasp.runtime.broker import RawDelivery, SettleOp
from waasp.runtime.errors import Reject, Retry
from waasp.runtime.hooks import send_after_run, send_prerun, send_revoked
from waasp.runtime.message import (
    TASK_FAILED,
    TERMINATED_REASON,
    DecodeError,
    EncodeError,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    encode_meta,
)
from waasp.runtime.progress import ProgressSink, reset_sink, set_sink
from waasp.runtime.signals import AFTER_RUN, task_prerun, task_revoked
from waasp.runtime.states import RETRY, STARTED, SUCCESS, TaskState
from waasp.runtime.task import Request, Task, TaskRegistry, reset_request, set_request
from waasp.runtime.worker.flow import Flow, in_workflow
from waasp.runtime.worker.limits import Limits, own_cancellation, run_async, wait_thread
from waasp.runtime.worker.outcomes import (
    Outcome,
    dead_outcome,
    decoded,
    message_of,
    remote_error,
    render,
    revoked_outcome,
)
from waasp.runtime.worker.running import Running
from waasp.runtime.worker.threads import TaskThreads

log = structlog.get_logger("waasp.runtime.worker.executor")


class Executor:
    """Runs deliveries of one worker's tasks."""

    def __init__(
        self,
        runtime: TaskRegistry,
        worker: str,
        threads: TaskThreads,
        on_started: Callable[[TaskMeta], None],
        on_progress: Callable[[TaskMeta], None],
        flow: Flow | None = None,
    ) -> None:
        self.runtime = runtime
        self.worker = worker
        self.threads = threads
        self.on_started = on_started
        self.on_progress = on_progress
        self.track_started = runtime.conf.task_track_started
        self.running: dict[asyncio.Task[Any], Running] = {}
        self.flow = flow  # a worker's; eager mode runs no workflows

    async def run(self, delivery: RawDelivery) -> Outcome:
        """Execute a delivery; never raises except on the executor's own cancellation."""
        try:
            return await self._run(delivery)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and own_cancellation():
                raise
            # A defect of the runtime itself, not of the task: the delivery still leaves the
            # queue (FAILURE and a dead letter) rather than staying held for ever.
            log.exception("executor_failed", queue=delivery.queue, entry_id=delivery.entry_id)
            message = decoded(delivery)
            return dead_outcome(delivery, TASK_FAILED, remote_error(exc), self.worker, message)

    def in_thread(self, executor: asyncio.Task[Any]) -> bool:
        """Tell whether the executor ``executor`` waits for a sync task's running thread."""
        running = self.running.get(executor)
        return running is not None and running.thread is not None and running.thread.running

    def terminate(self, executor: asyncio.Task[Any], running: Running) -> None:
        """Stop the task ``executor`` runs, if it still runs it: cancel an async one where
        it awaits; a sync one's thread runs on, and its result is discarded."""
        if self.running.get(executor) is not running or running.terminate:
            return
        running.terminate = running.revoked = True
        if running.is_async:
            running.cancelled = True
            executor.cancel()

    def describe(self, executor: asyncio.Task[Any]) -> dict[str, str]:
        """The task ``executor`` runs (its asyncio task's name if it runs none), for logs."""
        running = self.running.get(executor)
        if running is None:
            return {"asyncio_task": executor.get_name()}
        return {"task": running.task, "task_id": running.task_id}

    async def _run(self, delivery: RawDelivery) -> Outcome:
        try:
            message = message_of(delivery.raw)
        except DecodeError as exc:
            log.error(
                "message_undecodable",
                queue=delivery.queue,
                entry_id=delivery.entry_id,
                error=str(exc),
            )
            return dead_outcome(delivery, "undecodable", remote_error(exc), self.worker)
        task = self.runtime.tasks.get(message.task)
        if task is None:
            log.error("task_unknown", task=message.task, task_id=message.id)
            error = RemoteError("NotRegistered", f"task {message.task!r} is not registered")
            return dead_outcome(delivery, "unknown_task", error, self.worker, message)
        # Bound and reset by token: bound_contextvars would first copy every bound variable
        # to restore them afterwards, on every task's path.
        tokens = structlog.contextvars.bind_contextvars(
            task_id=message.id, task=message.task, queue=delivery.queue
        )
        try:
            outcome = await self._run_task(task, message, delivery)
            # Before the acknowledgement: see worker/flow.py.
            if self.flow is not None and in_workflow(message):
                await self.flow.advance(message, outcome)
            return outcome
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    async def _run_task(self, task: Task, message: TaskMessage, delivery: RawDelivery) -> Outcome:
        started = time.time()
        running = Running(message.task, message.id, is_async=task.is_async)
        request = Request(
            id=message.id,
            task=message.task,
            args=message.args,
            kwargs=message.kwargs,
            retries=message.retries,
            eta=message.eta,
            headers=message.headers,
            delivery_info={
                "queue": delivery.queue,
                "entry_id": delivery.entry_id,
                "deliveries": delivery.deliveries,
                "priority": delivery.priority,  # the stream it came from
                "worker": self.worker,
            },
            hostname=self.worker,
            is_revoked=running.is_revoked,
        )
        if self.track_started and not task.ignore_result:
            self.on_started(self._meta(message, delivery, STARTED, started_at=started))
        token = set_request(request)
        base = functools.partial(self._meta, message, delivery, STARTED, started_at=started)
        sink = ProgressSink(message.id, base, self.on_progress, asyncio.get_running_loop())
        sink_token = set_sink(sink)
        current = asyncio.current_task()
        if current is not None:
            self.running[current] = running
        try:
            if task_prerun.receivers:
                await send_prerun(task, request)
            outcome: Outcome | None = await self._attempt(task, message, delivery, running, started)
        except asyncio.CancelledError:
            if not running.cancelled:
                raise
            outcome = None  # the revoke watch stopped it
        finally:
            sink.close()
            reset_sink(sink_token)
            if current is not None:
                self.running.pop(current, None)
        try:
            if running.cancelled and current is not None:
                current.uncancel()
                if current.cancelling():
                    raise asyncio.CancelledError  # the executor itself is stopping too
            outcome = await self._ended(task, message, delivery, request, running, outcome, started)
        finally:
            reset_request(token)
        return outcome

    async def _ended(
        self,
        task: Task,
        message: TaskMessage,
        delivery: RawDelivery,
        request: Request,
        running: Running,
        outcome: Outcome | None,
        started: float,
    ) -> Outcome:
        """The outcome of a run that ended (REVOKED if a revoke stopped it), its signals sent."""
        if running.terminate or outcome is None:
            log.warning("task_terminated", thread=not running.is_async)
            outcome = revoked_outcome(delivery, message, self.worker, TERMINATED_REASON, started)
            if task_revoked.receivers:
                await send_revoked(task, message, request, TERMINATED_REASON)
        if AFTER_RUN.connected:
            await send_after_run(task, request, outcome)
        return outcome

    async def _attempt(
        self,
        task: Task,
        message: TaskMessage,
        delivery: RawDelivery,
        running: Running,
        started: float,
    ) -> Outcome:
        try:
            result = await self._call(task, message, running)
        except Retry as retry:
            return self._retry(message, delivery, retry, started)
        except Reject as reject:
            log.warning("task_rejected", reason=reject.reason)
            return dead_outcome(
                delivery, f"rejected: {reject.reason}", remote_error(reject), self.worker, message
            )
        except SystemExit as exc:  # a task's sys.exit() fails the task, not the worker
            code = render(functools.partial(repr, exc.code), "?")
            error = RuntimeError(f"task called sys.exit({code})")
            return self._failed(task, message, delivery, error, started)
        except BaseException as exc:
            # Anything task code raises is its failure: a CancelledError too (it awaited
            # something another coroutine cancelled), unless the executor itself is stopping.
            if isinstance(exc, asyncio.CancelledError) and own_cancellation():
                raise
            return self._failed(task, message, delivery, exc, started)
        return self._succeeded(task, message, delivery, result, started)

    async def _call(self, task: Task, message: TaskMessage, running: Running) -> Any:
        args = (task, *message.args) if task.bind else message.args
        conf = self.runtime.conf
        limits = Limits(
            task.name,
            soft=task.soft_time_limit or conf.task_soft_time_limit or None,
            hard=task.time_limit or conf.task_time_limit or None,
        )
        if task.is_async:
            return await run_async(task.fn(*args, **message.kwargs), limits)
        call = functools.partial(task.fn, *args, **message.kwargs)
        running.thread = self.threads.submit(
            functools.partial(contextvars.copy_context().run, call), task.name
        )
        result = await wait_thread(running.thread, self.threads, limits)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _meta(
        self, message: TaskMessage, delivery: RawDelivery, state: TaskState, **fields: Any
    ) -> TaskMeta:
        return TaskMeta(
            id=message.id,
            state=state,
            name=message.task,
            retries=message.retries,
            queue=delivery.queue,
            worker=self.worker,
            entry_id=delivery.entry_id,
            deliveries=delivery.deliveries,
            **fields,
        )

    def _succeeded(
        self, task: Task, message: TaskMessage, delivery: RawDelivery, result: Any, started: float
    ) -> Outcome:
        op = SettleOp.ack(delivery.entry_id)
        if task.ignore_result:
            return Outcome(SUCCESS, op, retval=result)
        meta = self._meta(
            message, delivery, SUCCESS, result=result, started_at=started, date_done=time.time()
        )
        try:
            encoded = encode_meta(meta)
        except EncodeError as exc:
            return self._failed(task, message, delivery, exc, started)
        log.debug("task_succeeded", runtime_ms=round((time.time() - started) * 1000, 3))
        return Outcome(SUCCESS, op, ResultRecord(meta, encoded), retval=result)

    def _failed(
        self,
        task: Task,
        message: TaskMessage,
        delivery: RawDelivery,
        exc: BaseException,
        started: float,
    ) -> Outcome:
        if task.autoretry_for and isinstance(exc, task.autoretry_for):
            countdown = self._autoretry_countdown(task, message.retries)
            try:
                retry = task.retry(exc=exc, countdown=countdown)
            except BaseException as final:  # past max_retries, retry() raises exc itself
                exc = final
            else:
                return self._retry(message, delivery, retry, started)
        error = remote_error(exc)
        log.error(
            "task_failed",
            error=f"{error.type}: {error.message}",
            retries=message.retries,
            traceback=error.traceback,
        )
        return replace(dead_outcome(delivery, TASK_FAILED, error, self.worker, message), exc=exc)

    @staticmethod
    def _autoretry_countdown(task: Task, retries: int) -> float:
        if task.retry_backoff:
            factor = 1.0 if task.retry_backoff is True else float(task.retry_backoff)
            return exponential_backoff(retries, factor, task.retry_backoff_max, task.retry_jitter)
        return task.default_retry_delay

    def _retry(
        self, message: TaskMessage, delivery: RawDelivery, retry: Retry, started: float
    ) -> Outcome:
        now = time.time()
        if retry.countdown is not None:
            delay = max(float(retry.countdown), 0.0)
        elif retry.eta is not None:
            delay = max(retry.eta.timestamp() - now, 0.0)
        else:
            delay = 0.0
        following = message.next_attempt(eta=now + delay)
        error = remote_error(retry.exc) if retry.exc is not None else None
        meta = replace(
            self._meta(message, delivery, RETRY, error=error, started_at=started),
            retries=following.retries,
        )
        log.warning(
            "task_retried",
            retries=following.retries,
            countdown=round(delay, 3),
            error=f"{error.type}: {error.message}" if error else None,
        )
        op = SettleOp.retry(delivery.entry_id, following, int(delay * 1000))
        return Outcome(RETRY, op, ResultRecord(meta), exc=retry if retry.exc is None else retry.exc)
