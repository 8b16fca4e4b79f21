"""Signals: receivers that run around publishing, executing and the worker's life, with
Celery's names and keyword arguments.

Connect a plain or ``async`` function; every receiver is called with ``sender``, ``signal``
and the signal's keyword arguments, so give it ``**kwargs`` for those it does not use::

    from waasp.runtime import signals

    @signals.task_failure.connect(sender="billing.charge")
    async def alert(sender, task_id, exception, **kwargs): ...

Signals are process-wide. A receiver that raises is logged and skipped: it never fails a
task or a send. Receivers run inline, in the order they connected, on the code path that sends
them (a worker's executor, a producer's ``send_task``): keep them quick.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, overload

import structlog

log = structlog.get_logger("waasp.runtime.signals")

Receiver = Callable[..., Any]
R = TypeVar("R", bound=Receiver)

# Celery's default: a receiver connected to no particular sender hears every sender.
_ANY: Any = object()


def _matches(wanted: Any, sender: Any) -> bool:
    """A ``sender=`` filter: the sender itself, or a name matched against a task's name."""
    if wanted is _ANY or wanted is sender or wanted == sender:
        return True
    return isinstance(wanted, str) and getattr(sender, "name", None) == wanted


class SignalGroup:
    """Signals sent together: ``connected`` is one bool to test for all of them."""

    def __init__(self) -> None:
        self.members: list[Signal] = []
        self.connected = False


class Signal:
    """A named hook: ``connect`` receivers, ``send``/``asend`` to call them.

    ``receivers`` is a list that is empty when nothing is connected, so a hot path checks it
    before building any arguments: ``if task_prerun.receivers: await ...``.
    """

    def __init__(self, name: str, doc: str = "", group: SignalGroup | None = None) -> None:
        self.name = name
        self.__doc__ = doc or f"The {name} signal."
        self.receivers: list[tuple[Receiver, Any]] = []
        self.group = group
        if group is not None:
            group.members.append(self)
        # What ``send`` scheduled, kept so the tasks are not collected before they end.
        self._pending: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"<Signal {self.name}: {len(self.receivers)} receivers>"

    @overload
    def connect(self, receiver: R, *, sender: Any = ...) -> R: ...

    @overload
    def connect(self, receiver: None = None, *, sender: Any = ...) -> Callable[[R], R]: ...

    def connect(self, receiver: R | None = None, *, sender: Any = _ANY) -> R | Callable[[R], R]:
        """Connect ``receiver`` (also usable as ``@signal.connect`` or
        ``@signal.connect(sender="tasks.add")``); ``sender`` keeps it to one sender: a task's
        name, or the sender object itself. Connecting the same pair twice is a no-op."""

        def register(fn: R) -> R:
            if not callable(fn):
                raise TypeError(f"a {self.name} receiver must be callable, not {fn!r}")
            if not any(r == fn and s is sender for r, s in self.receivers):
                self.receivers = [*self.receivers, (fn, sender)]
                self._changed()
            return fn

        return register(receiver) if receiver is not None else register

    def disconnect(self, receiver: Receiver, *, sender: Any = _ANY) -> bool:
        """Disconnect ``receiver`` (connected with this ``sender``); tell whether it was."""
        kept = [(r, s) for r, s in self.receivers if not (r == receiver and s is sender)]
        found = len(kept) != len(self.receivers)
        self.receivers = kept
        self._changed()
        return found

    def _changed(self) -> None:
        if self.group is not None:
            self.group.connected = any(member.receivers for member in self.group.members)

    async def asend(self, sender: Any = None, **kwargs: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for ``sender``, awaiting the ``async`` ones; return each
        receiver with what it returned (or the exception it raised, which is logged)."""
        responses: list[tuple[Receiver, Any]] = []
        for receiver in self._for(sender):
            response = self._call(receiver, sender, kwargs)
            if inspect.isawaitable(response):
                response = await self._awaited(response, receiver, sender, kwargs)
            responses.append((receiver, response))
        return responses

    def send(self, sender: Any = None, **kwargs: Any) -> list[tuple[Receiver, Any]]:
        """``asend`` from synchronous code: an ``async`` receiver's coroutine is scheduled on
        the running event loop (its outcome is not waited for), or run to completion if no
        loop runs in this thread."""
        responses: list[tuple[Receiver, Any]] = []
        for receiver in self._for(sender):
            response = self._call(receiver, sender, kwargs)
            if inspect.iscoroutine(response):
                response = self._run_later(self._awaited(response, receiver, sender, kwargs))
            responses.append((receiver, response))
        return responses

    def _for(self, sender: Any) -> list[Receiver]:
        # connect and disconnect replace the list, so a receiver may call them meanwhile.
        return [receiver for receiver, wanted in self.receivers if _matches(wanted, sender)]

    def _call(self, receiver: Receiver, sender: Any, kwargs: dict[str, Any]) -> Any:
        try:
            return receiver(sender=sender, signal=self, **kwargs)
        except Exception as exc:
            self._failed(receiver, sender, kwargs)
            return exc

    async def _awaited(
        self, response: Awaitable[Any], receiver: Receiver, sender: Any, kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await response
        except Exception as exc:
            self._failed(receiver, sender, kwargs)
            return exc

    def _run_later(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        task = loop.create_task(coro)
        self._pending.add(task)  # a strong reference until it is done
        task.add_done_callback(self._pending.discard)
        return task

    def _failed(self, receiver: Receiver, sender: Any, kwargs: dict[str, Any]) -> None:
        task = kwargs.get("task")
        log.exception(
            "signal_receiver_failed",
            signal=self.name,
            receiver=getattr(receiver, "__qualname__", repr(receiver)),
            task_id=kwargs.get("task_id"),
            task_name=getattr(task, "name", None) or getattr(sender, "name", None) or sender,
        )


# -- publishing (a producer's send_task / send_many; sender: the task's name) -------------------

before_task_publish = Signal(
    "before_task_publish",
    "Before a message is encoded and sent: task_id, args, kwargs, headers (a dict receivers may "
    "add to: the task sees it as ``self.request.headers``), routing_key and queue, eta.",
)
after_task_publish = Signal(
    "after_task_publish",
    "After a message was handed to the broker (an idempotent re-send that enqueued nothing "
    "included): the same arguments as before_task_publish.",
)

# -- executing (a worker; sender: the Task) ------------------------------------------------------

# The signals an executor sends after a task ran: it tests them all with one bool.
AFTER_RUN = SignalGroup()

task_prerun = Signal("task_prerun", "Before a task runs: task_id, task, args, kwargs, request.")
task_postrun = Signal(
    "task_postrun",
    "After a task ran, whatever its outcome: task_id, task, args, kwargs, request, retval (its "
    "return value or exception), state (SUCCESS, RETRY or FAILURE).",
    AFTER_RUN,
)
task_success = Signal(
    "task_success",
    "A task succeeded: result, and task_id, task, args, kwargs, request.",
    AFTER_RUN,
)
task_failure = Signal(
    "task_failure",
    "A task failed for good (no retry left): task_id, exception, traceback, einfo (the "
    "formatted traceback), args, kwargs, task, request.",
    AFTER_RUN,
)
task_retry = Signal(
    "task_retry",
    "A task will run again: request, reason (the exception, or the Retry), einfo, countdown, "
    "and headers: the next attempt's headers, which receivers may add to.",
    AFTER_RUN,
)
task_revoked = Signal(
    "task_revoked",
    "A task was revoked: request (or None), task_id, task, terminated, expired.",
)

# -- the worker (sender: the Worker) -------------------------------------------------------------

worker_ready = Signal("worker_ready", "A worker is ready: it is about to take tasks.")
worker_shutdown = Signal("worker_shutdown", "A worker stopped taking tasks and is shutting down.")


__all__ = [
    "Signal",
    "SignalGroup",
    "after_task_publish",
    "before_task_publish",
    "task_failure",
    "task_postrun",
    "task_prerun",
    "task_retry",
    "task_revoked",
    "task_success",
    "worker_ready",
    "worker_shutdown",
]
