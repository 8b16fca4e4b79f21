"""The types of ``@runtime.task(**options)``: decorators that type a task from its function."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, overload

from waasp.runtime.task import Task

P = ParamSpec("P")
R = TypeVar("R")


class TaskDecorator(Protocol):
    """What ``@runtime.task(**options)`` returns: a decorator typed like ``@runtime.task``."""

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, R]], /
    ) -> Task[P, R, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> Task[P, R, R]: ...


class BoundTaskDecorator(Protocol):
    """What ``@runtime.task(bind=True, ...)`` returns: the function's first parameter is the
    task itself, so the task's parameters are the others."""

    @overload
    def __call__(
        self, fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]], /
    ) -> Task[P, R, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[Concatenate[Any, P], R], /) -> Task[P, R, R]: ...
