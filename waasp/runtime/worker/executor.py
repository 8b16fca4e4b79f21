"""Run one delivery and decide how it leaves the queue: success, retry, failure, dead letter."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from waasp.runtime.backoff import exponential_backoff
from waasp.runtime.broker import RawDelivery, SettleOp
from waasp.runtime.errors import Reject, Retry
from waasp.runtime.message import (
    TASK_FAILED,
    DecodeError,
    EncodeError,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    decode_message,
    encode_meta,
)
from waasp.runtime.states import RETRY, STARTED, SUCCESS, TaskState
from waasp.runtime.task import Request, Task, reset_request, set_request
from waasp.runtime.worker.limits import Limits, own_cancellation, run_async, wait_thread
from waasp.runtime.worker.outcomes import (
    Outcome,
    dead_outcome,
    decoded,
    remote_error,
    render,
)
from waasp.runtime.worker.threads import TaskThreads, ThreadCall

if TYPE_CHECKING:
    from waasp.runtime.app import Runtime

log = structlog.get_logger("waasp.runtime.worker.executor")


@dataclass(slots=True)
class Running:
    """What an executor runs: the watchdog names it, the drain waits for its thread."""

    task: str
    task_id: str
    thread: ThreadCall | None = None


class Executor:
    """Runs deliveries of one worker's tasks."""

    def __init__(
        self,
        runtime: Runtime,
        worker: str,
        threads: TaskThreads,
        on_started: Callable[[TaskMeta], None],
    ) -> None:
        self.runtime = runtime
        self.worker = worker
        self.threads = threads
        self.on_started = on_started
        self.track_started = runtime.conf.task_track_started
        self.running: dict[asyncio.Task[Any], Running] = {}

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

    def describe(self, executor: asyncio.Task[Any]) -> dict[str, str]:
        """The task ``executor`` runs (its asyncio task's name if it runs none), for logs."""
        running = self.running.get(executor)
        if running is None:
            return {"asyncio_task": executor.get_name()}
        return {"task": running.task, "task_id": running.task_id}

    async def _run(self, delivery: RawDelivery) -> Outcome:
        try:
            message = decode_message(delivery.raw)
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
        with structlog.contextvars.bound_contextvars(
            task_id=message.id, task=message.task, queue=delivery.queue
        ):
            return await self._run_task(task, message, delivery)

    async def _run_task(self, task: Task, message: TaskMessage, delivery: RawDelivery) -> Outcome:
        started = time.time()
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
        )
        if self.track_started and not task.ignore_result:
            self.on_started(self._meta(message, delivery, STARTED, started_at=started))
        token = set_request(request)
        current = asyncio.current_task()
        running = Running(message.task, message.id)
        if current is not None:
            self.running[current] = running
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
        finally:
            reset_request(token)
            if current is not None:
                self.running.pop(current, None)
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
            return Outcome(SUCCESS, op)
        meta = self._meta(
            message, delivery, SUCCESS, result=result, started_at=started, date_done=time.time()
        )
        try:
            encoded = encode_meta(meta)
        except EncodeError as exc:
            return self._failed(task, message, delivery, exc, started)
        log.debug("task_succeeded", runtime_ms=round((time.time() - started) * 1000, 3))
        return Outcome(SUCCESS, op, ResultRecord(meta, encoded))

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
        return dead_outcome(delivery, TASK_FAILED, error, self.worker, message)

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
        return Outcome(RETRY, op, ResultRecord(meta))
