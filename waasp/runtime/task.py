"""Tasks: the decorated function, its options, its calling API and its request context.

``Task[P, R, C]`` is typed from the function it wraps: ``P`` its parameters (without the task
itself for a ``bind=True`` task), ``R`` the result a worker stores (an async function's awaited
value) and ``C`` what calling it here returns (the coroutine, for an async function). All three
default to ``Any``, so a bare ``Task`` annotation still means "any task".
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Protocol

from waasp.runtime.errors import MaxRetriesExceededError, Reject, Retry
from waasp.runtime.expiry import Expires, expires_seconds
from waasp.runtime.priorities import DEFAULT_PRIORITY, check_priority
from waasp.runtime.progress import update_state
from waasp.runtime.rates import parse_rate

if sys.version_info >= (3, 13):
    from typing import ParamSpec, TypeVar
else:  # type-parameter defaults (PEP 696) came to ``typing`` in 3.13
    from typing_extensions import ParamSpec, TypeVar

if TYPE_CHECKING:
    from waasp.runtime.config import Config
    from waasp.runtime.results import AsyncResult

P = ParamSpec("P", default=...)
R = TypeVar("R", default=Any)
C = TypeVar("C", default=Any)


class TaskHost(Protocol):
    """What a task needs of its runtime: the settings and a way to send."""

    conf: Config

    async def send_task(
        self,
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        task: Task | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        task_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        expires: Expires | None = None,
        priority: int | None = None,
    ) -> AsyncResult[Any]:
        """Send a task by name."""


class TaskRegistry(Protocol):
    """What runs a task by name: the settings and the registered tasks."""

    conf: Config
    tasks: dict[str, Task]


class _Default(Enum):
    """Marks an option left to ``runtime.conf`` (None already means "unlimited")."""

    DEFAULT = "default"


_DEFAULT = _Default.DEFAULT


@dataclass(frozen=True, slots=True)
class Request:
    """What a running task knows about its own delivery (``self.request``)."""

    id: str | None = None
    task: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    eta: float | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    delivery_info: dict[str, Any] = field(default_factory=dict)
    hostname: str | None = None
    # ``self.request.is_revoked()``: whether the task was revoked while it runs, as its
    # worker last learned (it looks every REVOKE_POLL seconds; no I/O here, so a sync task
    # may call it too, at its safe points). False outside a worker.
    is_revoked: Callable[[], bool] = field(default=lambda: False, repr=False, compare=False)

    @property
    def scheduled_for(self) -> str | None:
        """The cron tick (ISO 8601) this run was enqueued for, if a beat entry enqueued it."""
        value = self.headers.get("scheduled_for")
        return str(value) if value is not None else None


_current_request: ContextVar[Request | None] = ContextVar("waasp_runtime_request", default=None)
_NO_REQUEST = Request()


def set_request(request: Request) -> object:
    """Make ``request`` the current one; return a token for ``reset_request``."""
    return _current_request.set(request)


def reset_request(token: object) -> None:
    """Restore the request that was current before ``set_request``."""
    _current_request.reset(token)  # type: ignore[arg-type]  # token from set_request


@dataclass(frozen=True, slots=True)
class Signature(Generic[R]):
    """A task call not yet sent: ``task.s(*args, **kwargs)``; ``R`` is the task's result."""

    task: Task[..., R]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def set(self, **options: Any) -> Signature[R]:
        """A copy with more ``apply_async`` options (queue, countdown, task_id...)."""
        return Signature(self.task, self.args, self.kwargs, {**self.options, **options})

    async def delay(self) -> AsyncResult[R]:
        """Send it."""
        return await self.task.apply_async(self.args, self.kwargs, **self.options)


class Task(Generic[P, R, C]):
    """A registered task. Call ``delay``/``apply_async`` to run it on a worker."""

    def __init__(
        self,
        runtime: TaskHost,
        fn: Callable[..., Any],
        name: str,
        *,
        bind: bool = False,
        queue: str | None = None,
        max_retries: int | _Default | None = _DEFAULT,
        default_retry_delay: float | None = None,
        time_limit: float | None = None,
        soft_time_limit: float | None = None,
        autoretry_for: tuple[type[BaseException], ...] = (),
        retry_backoff: bool | float = False,
        retry_backoff_max: float = 600.0,
        retry_jitter: bool = True,
        ignore_result: bool | None = None,
        expires: float | timedelta | None = None,
        rate_limit: str | float | None = None,
        max_concurrency: int | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> None:
        self.runtime = runtime
        self.fn = fn
        self.name = name
        self.bind = bind
        self.queue = queue
        self._max_retries = max_retries
        self._default_retry_delay = default_retry_delay
        self.time_limit = time_limit
        self.soft_time_limit = soft_time_limit
        self.autoretry_for = tuple(autoretry_for)
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.retry_jitter = retry_jitter
        self._ignore_result = ignore_result
        # Seconds from its send after which a task not started is not run (None: never).
        self.expires = expires_seconds(expires)
        # Shared by every worker (worker/admission.py); a bad value is a ValueError here, at
        # decoration, not at the first run.
        self.rate_limit = rate_limit
        self.rate = parse_rate(rate_limit) if rate_limit is not None else None
        if max_concurrency is not None and not (
            type(max_concurrency) is int and max_concurrency >= 1  # bool is not a count
        ):
            raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        self.max_concurrency = max_concurrency
        # Lower runs first: 0 (the best, the default) to 9, checked here, at decoration.
        self.priority = check_priority(priority)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def max_retries(self) -> int | None:
        """Retries allowed before the task fails (None: unlimited)."""
        if isinstance(self._max_retries, _Default):
            return self.runtime.conf.task_max_retries
        return self._max_retries

    @property
    def default_retry_delay(self) -> float:
        """Countdown of ``retry()`` when none is given."""
        if self._default_retry_delay is None:
            return float(self.runtime.conf.task_default_retry_delay)
        return self._default_retry_delay

    @property
    def ignore_result(self) -> bool:
        """Whether SUCCESS results are left unstored."""
        if self._ignore_result is None:
            return bool(self.runtime.conf.task_ignore_result)
        return self._ignore_result

    @property
    def request(self) -> Request:
        """The delivery being executed in the current context."""
        return _current_request.get() or _NO_REQUEST

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> C:
        """Run the function here and now, as Celery does (an async task's coroutine)."""
        if self.bind:
            return self.fn(self, *args, **kwargs)  # type: ignore[no-any-return]  # fn is C's
        return self.fn(*args, **kwargs)  # type: ignore[no-any-return]  # fn is C's

    def s(self, *args: Any, **kwargs: Any) -> Signature[R]:
        """A signature for ``runtime.send_many`` or a later ``delay``.

        Its arguments are not checked against the task's: a signature may hold only some of
        them (a workflow passes the rest), which ``ParamSpec`` cannot express.
        """
        return Signature(self, args, kwargs)

    signature = s

    async def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult[R]:
        """Send the task with these arguments."""
        return await self.runtime.send_task(self.name, args, kwargs, task=self)

    async def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        countdown: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        task_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        expires: Expires | None = None,
        priority: int | None = None,
    ) -> AsyncResult[R]:
        """Send the task with options: ``countdown`` seconds or an ``eta``, a queue, an id,
        ``expires`` (seconds, a timedelta or a datetime: not started by then, it is not run),
        a ``priority`` (0 the best to 9; the task's own when None)."""
        return await self.runtime.send_task(
            self.name,
            tuple(args or ()),
            dict(kwargs or {}),
            task=self,
            countdown=countdown,
            eta=eta,
            queue=queue,
            task_id=task_id,
            headers=headers,
            expires=expires,
            priority=priority,
        )

    def retry(
        self,
        exc: BaseException | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        max_retries: int | None = None,
    ) -> Retry:
        """Ask for another attempt: ``raise self.retry(exc=exc, countdown=...)``.

        Past ``max_retries`` it raises ``exc`` itself (or MaxRetriesExceededError), so the
        task ends FAILURE with the original error.
        """
        limit = self.max_retries if max_retries is None else max_retries
        if limit is not None and self.request.retries >= limit:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"{self.name}[{self.request.id}] exceeded max_retries={limit}"
            )
        if countdown is None and eta is None:
            countdown = self.default_retry_delay
        return Retry(exc=exc, countdown=countdown, eta=eta, max_retries=limit)

    def update_state(
        self, task_id: str | None = None, state: str = "PROGRESS", meta: Any = None
    ) -> None:
        """Record a state of the running task, with ``meta`` (JSON) as what ``info()`` reads:
        ``self.update_state(state="PROGRESS", meta={"done": 3, "total": 10})``. Any state
        string but SUCCESS and FAILURE; callable from ``async def`` and ``def`` tasks alike.
        Written by the worker shortly after (see ``waasp.runtime.progress``); outside a
        worker it does nothing."""
        update_state(task_id, state, meta)

    def send_to_dlq(self, reason: str = "rejected") -> Exception:
        """Dead-letter the current message by hand: ``raise self.send_to_dlq("why")``."""
        return Reject(reason)
