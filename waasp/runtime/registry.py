"""The registry half of ``Runtime``: tasks by name, the queue each name routes to, and the
worker's start-up and shutdown hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast, overload

from waasp.runtime.errors import NotRegistered
from waasp.runtime.keys import check_queue_name
from waasp.runtime.routing import resolve_queue
from waasp.runtime.task import Task, TaskHost

if TYPE_CHECKING:
    from waasp.runtime.config import Config
    from waasp.runtime.decorators import BoundTaskDecorator, TaskDecorator

P = ParamSpec("P")
R = TypeVar("R")


class Registry:
    """Registered tasks, hooks and the routing of their names to queues; ``Runtime`` adds
    the configuration and the clients."""

    conf: Config

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self._routes: dict[tuple[str, str | None, str | None], str] = {}
        self._routes_for: tuple[int, str] = (0, "")

    # -- registry --------------------------------------------------------------------------

    @overload
    def task(
        self, fn: Callable[P, Coroutine[Any, Any, R]], /
    ) -> Task[P, R, Coroutine[Any, Any, R]]: ...

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R, R]: ...

    @overload
    def task(self, /, *, bind: Literal[True], **options: Any) -> BoundTaskDecorator: ...

    @overload
    def task(self, /, *, bind: Literal[False] = False, **options: Any) -> TaskDecorator: ...

    @overload  # options from a dict (``**options``): bind is not known, the task is untyped
    def task(self, /, **options: Any) -> Callable[[Callable[..., Any]], Task]: ...

    def task(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Register a function as a task: ``@runtime.task`` or ``@runtime.task(bind=True, ...)``.

        The task is typed from the function (``Task[P, R, C]``): ``delay`` checks its
        arguments and an async function's task stores its awaited value. With ``bind=True``
        the function's first parameter (the task) is left out of ``P``.
        """

        def register(func: Callable[..., Any]) -> Task:
            name = options.pop("name", None) or f"{func.__module__}.{func.__qualname__}"
            if options.get("queue"):
                check_queue_name(options["queue"])
            task = Task(cast(TaskHost, self), func, name, **options)
            self.tasks[name] = task
            return task

        return register(fn) if fn is not None else register

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Register a coroutine function a worker awaits before it takes any task."""
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Register a coroutine function a worker awaits after its last task (resources)."""
        self.shutdown_hooks.append(hook)
        return hook

    def get_task(self, name: str) -> Task:
        """The registered task called ``name``."""
        try:
            return self.tasks[name]
        except KeyError:
            raise NotRegistered(f"task {name!r} is not registered") from None

    def route(self, name: str, queue: str | None = None, task: Task | None = None) -> str:
        """The queue a task goes to (memoised per name: it is on the enqueue hot path; the
        memo follows ``conf.update`` of ``task_routes`` or ``task_default_queue``)."""
        own = task.queue if task is not None else None
        if own is None and task is None and name in self.tasks:
            own = self.tasks[name].queue
        conf = self.conf
        if self._routes_for != (id(conf.task_routes), conf.task_default_queue):
            self._routes_for = (id(conf.task_routes), conf.task_default_queue)
            self._routes.clear()
        key = (name, queue, own)
        found = self._routes.get(key)
        if found is None:
            found = check_queue_name(
                resolve_queue(name, queue, own, conf.task_routes, conf.task_default_queue)
            )
            self._routes[key] = found
        return found
