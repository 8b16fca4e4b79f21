"""Sending the signals: the keyword arguments each hook point gives its receivers.

The call sites test a bool first (``signal.receivers``, ``AFTER_RUN.connected``), so a
process without receivers builds none of these arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waasp.runtime import signals
from waasp.runtime.message import EXPIRED_REASON, TERMINATED_REASON
from waasp.runtime.states import FAILURE, RETRY, SUCCESS

if TYPE_CHECKING:
    from waasp.runtime.message import TaskMessage
    from waasp.runtime.task import Request, Task
    from waasp.runtime.worker.outcomes import Outcome


async def send_publish(signal: signals.Signal, message: TaskMessage) -> None:
    """Send ``before_task_publish`` or ``after_task_publish`` for ``message``; its headers
    dict is passed as is, so a receiver of the first can add headers before encoding."""
    await signal.asend(
        message.task,
        task_id=message.id,
        args=message.args,
        kwargs=message.kwargs,
        headers=message.headers,
        routing_key=message.queue,
        queue=message.queue,
        eta=message.eta,
    )


def _task_kwargs(task: Task, request: Request) -> dict[str, Any]:
    return {
        "task_id": request.id,
        "task": task,
        "args": request.args,
        "kwargs": request.kwargs,
        "request": request,
    }


async def send_prerun(task: Task, request: Request) -> None:
    """Send ``task_prerun``."""
    await signals.task_prerun.asend(task, **_task_kwargs(task, request))


async def send_after_run(task: Task, request: Request, outcome: Outcome) -> None:
    """Send ``task_success``, ``task_retry`` or ``task_failure`` as ``outcome`` says, then
    ``task_postrun``."""
    common = _task_kwargs(task, request)
    error = outcome.record.meta.error if outcome.record is not None else None
    einfo = error.traceback if error is not None else None
    if outcome.state == SUCCESS:
        await signals.task_success.asend(task, result=outcome.retval, **common)
    elif outcome.state == RETRY and outcome.op.next_attempt is not None:
        await signals.task_retry.asend(
            task,
            reason=outcome.exc,
            einfo=einfo,
            countdown=outcome.op.delay_ms / 1000,
            headers=outcome.op.next_attempt.headers,
            **common,
        )
    elif outcome.state == FAILURE and outcome.exc is not None:
        exc = outcome.exc
        await signals.task_failure.asend(
            task, exception=exc, traceback=exc.__traceback__, einfo=einfo, **common
        )
    retval = outcome.retval if outcome.state == SUCCESS else outcome.exc
    await signals.task_postrun.asend(task, retval=retval, state=outcome.state, **common)


async def send_revoked(
    task: Task | None, message: TaskMessage, request: Request | None, reason: str
) -> None:
    """Send ``task_revoked`` for a task dropped at its start (``request`` None) or stopped
    while it ran (``reason``: revoked, terminated or expired); the sender is the ``Task``, or
    its name where the worker has none."""
    await signals.task_revoked.asend(
        task if task is not None else message.task,
        request=request,
        task_id=message.id,
        task=task,
        terminated=reason == TERMINATED_REASON,
        expired=reason == EXPIRED_REASON,
    )
