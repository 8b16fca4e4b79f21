"""Tasks: the decorated function, its options, its calling API and its request context."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from waasp.runtime.errors import MaxRetriesExceededError, Reject, Retry
from waasp.runtime.priorities import DEFAULT_PRIORITY, check_priority

if TYPE_CHECKING:
    from waasp.runtime.config import Config
    from waasp.runtime.results import AsyncResult


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
        priority: int | None = None,
    ) -> AsyncResult:
        """Send a task by name."""


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
class Signature:
    """A task call not yet sent: ``task.s(*args, **kwargs)``."""

    task: Task
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def set(self, **options: Any) -> Signature:
        """A copy with more ``apply_async`` options (queue, countdown, task_id...)."""
        return Signature(self.task, self.args, self.kwargs, {**self.options, **options})

    async def delay(self) -> AsyncResult:
        """Send it."""
        return await self.task.apply_async(self.args, self.kwargs, **self.options)


class Task:
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

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function here and now, as Celery does."""
        if self.bind:
            return self.fn(self, *args, **kwargs)
        return self.fn(*args, **kwargs)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature for ``runtime.send_many`` or a later ``delay``."""
        return Signature(self, args, kwargs)

    signature = s

    async def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
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
        priority: int | None = None,
    ) -> AsyncResult:
        """Send the task with options: ``countdown`` seconds or an ``eta``, a queue, an id,
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

    def send_to_dlq(self, reason: str = "rejected") -> Exception:
        """Dead-letter the current message by hand: ``raise self.send_to_dlq("why")``."""
        return Reject(reason)
