"""``waasp up``: the API, a worker on every queue and the scheduler, in one event loop.

It first takes the data dir (a second ``up`` on it refuses to start) and binds the API's
port, so that both failures come before anything starts. Then it starts the embedded servers
a configuration lacks (no ``WAASP_REDIS_URL`` / ``WAASP_DATABASE_URL``), migrates and serves.
A signal at any moment of start-up ends it; however it ends, what it started is stopped, and
only that: a server it found running for someone else keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import structlog

from waasp import instance, tasks
from waasp.api import create_app
from waasp.api.readiness import worker_probe
from waasp.api.server import base_url, listen, run_server
from waasp.db.migrate import migrate
from waasp.embedded import EmbeddedPostgres, EmbeddedRedis
from waasp.errors import WaaspError
from waasp.instance import Instance
from waasp.runtime import Scheduler, TaskRuntimeError, Worker
from waasp.settings import Settings
from waasp.token import obtain_token, token_path

log = structlog.get_logger("waasp.up")

T = TypeVar("T")
Say = Callable[[str], None]
# How long the worker and scheduler get past the worker's drain before they are cancelled.
FINISH_MARGIN = 15.0


class Stopped(WaaspError):
    """A signal asked ``waasp up`` to stop before it was serving."""


async def run_up(
    settings: Settings, stop: asyncio.Event, say: Say, *, strict: bool = False
) -> None:
    """Run everything until ``stop`` is set, then drain and stop it all. With ``strict``, stop
    with an error unless Redis's maxmemory-policy is noeviction (else the worker warns).

    Raises AlreadyRunning (another ``up`` holds the data dir) or ListenError (the port cannot
    be bound) before anything starts.
    """
    data_dir = settings.data_dir.resolve()
    settings = replace(settings, data_dir=data_dir)
    with instance.lock(data_dir) as stale:
        sockets = listen(settings.host, settings.port)
        up = _Up(settings, stop, say, sockets, stale, strict=strict)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await up.run(stack)
        except Stopped:
            log.info("waasp_stopped", during="start-up")
        finally:
            for sock in sockets:
                sock.close()
            up.forget()


class _Up:
    """One run of ``waasp up``: what it started, and its record in the data dir."""

    def __init__(
        self,
        settings: Settings,
        stop: asyncio.Event,
        say: Say,
        sockets: list[socket.socket],
        stale: Instance | None,
        *,
        strict: bool = False,
    ) -> None:
        self.settings = settings
        self.strict = strict
        self.stop = stop
        self.say = say
        self.sockets = sockets
        self.data_dir: Path = settings.data_dir
        # A dead ``up``'s record keeps the servers it launched known until this one has
        # taken them over, so that a start-up stopped before then loses nothing.
        self.stale = stale
        self.record = Instance(
            pid=os.getpid(),
            url=base_url(sockets, settings.host),
            data_dir=str(self.data_dir),
            started_at=instance.now_iso(),
            key_prefix=settings.key_prefix,
            servers=stale.servers if stale else {},
        )
        instance.write(self.data_dir, self.record)

    async def run(self, stack: contextlib.AsyncExitStack) -> None:
        """Start the servers, migrate, serve until stopped; ``stack`` unwinds what started."""
        await self._start_servers(stack)
        url = self.settings.database_url
        assert url is not None
        for migration in await self._unless_stopped(migrate(url)):
            self.say(f"applied migration {migration.version:04d}_{migration.name}")
        self._token()
        self._check_stop()
        await self._serve(stack)

    def forget(self) -> None:
        """Take this run's record out of the data dir (or put back a dead run's, if this
        one stopped before taking over its servers)."""
        if self.stale is not None and self.stale.servers:
            instance.write(self.data_dir, self.stale)
        else:
            instance.remove(self.data_dir, self.record.pid)

    def _update(self, **changes: Any) -> None:
        self.record = replace(self.record, **changes)
        instance.write(self.data_dir, self.record)

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped("stopped during start-up")

    async def _unless_stopped(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work``, or cancel it and raise Stopped as soon as ``stop`` is set."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait([task])
        if task.cancelled():
            raise Stopped("stopped during start-up")
        return task.result()

    async def _start_servers(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        owned: dict[str, int] = {}
        wanted: list[EmbeddedRedis | EmbeddedPostgres] = []
        if settings.redis_url is None:
            wanted.append(EmbeddedRedis(self.data_dir))
        if settings.database_url is None:
            wanted.append(EmbeddedPostgres(self.data_dir))
        for server in wanted:
            self._check_stop()
            stack.push_async_callback(_stop_if_ours, server, owned)
            await _to_completion(server.start)
            launched_by_dead_run = self.stale and self.stale.servers.get(server.name)
            if not server.reused or launched_by_dead_run == server.pid:
                assert server.pid is not None
                owned[server.name] = server.pid
            else:
                self.say(
                    f"using the embedded {server.name} already running (pid {server.pid}); "
                    "it keeps running after this stops"
                )
        redis = next((s for s in wanted if isinstance(s, EmbeddedRedis)), None)
        postgres = next((s for s in wanted if isinstance(s, EmbeddedPostgres)), None)
        if redis is not None:
            settings = replace(
                settings, redis_url=redis.url, result_url=settings.result_url or redis.db_url(1)
            )
        if postgres is not None:
            settings = replace(settings, database_url=postgres.url)
        self.settings, self.stale = settings, None
        self._update(
            redis_url=settings.redis_url,
            result_url=settings.result_url,
            database_url=settings.database_url,
            servers=owned,
        )

    def _token(self) -> None:
        if self.settings.api_token is not None:
            return
        token, created = obtain_token(self.data_dir)
        path = token_path(self.data_dir)
        self.settings = replace(self.settings, api_token=token)
        self._update(token_file=str(path))
        if created:
            self.say(f"API token (new, saved in {path}): {token}")
        else:
            self.say(f"API token: stored in {path} (read it with: cat {path})")

    async def _serve(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        runtime = tasks.configure(settings)
        stack.push_async_callback(_quietly, runtime.close)
        worker = Worker(
            runtime, list(tasks.QUEUES), settings.worker_concurrency, strict=self.strict
        )
        scheduler = Scheduler(runtime)
        app = create_app(
            settings,
            runtime=runtime,
            notify=runtime.notify_blocked_sender,
            readiness_probes=[worker_probe(worker)],
        )
        background = [
            asyncio.create_task(worker.run(), name="worker"),
            asyncio.create_task(scheduler.run(), name="scheduler"),
        ]
        for task in background:
            # Either ending on its own is a failure: stop the rest, and report it below.
            task.add_done_callback(lambda _: self.stop.set())
        try:
            await run_server(
                app,
                settings.host,
                settings.port,
                self.stop,
                on_listening=self._listening,
                sockets=self.sockets,
            )
        finally:
            worker.stop()
            scheduler.stop()
            await _finish(background, worker.shutdown_timeout + FINISH_MARGIN)
        log.info("waasp_stopped")

    def _listening(self, url: str) -> None:
        self._update(state=instance.RUNNING)
        self.say(
            f"WAASP is up: API {url}/api/v1  dashboard {url}/dashboard  "
            f"(worker on {','.join(tasks.QUEUES)}, scheduler running; Ctrl-C or "
            "`waasp down` stops)"
        )


async def _finish(background: list[asyncio.Task[None]], timeout: float) -> None:
    """Wait for the worker and scheduler to stop, cancel them past ``timeout``, and raise
    the error either ended with."""
    _, late = await asyncio.wait(background, timeout=timeout)
    for task in late:
        log.warning("shutdown_overran", task=task.get_name(), timeout_s=timeout)
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=FINISH_MARGIN)
    for task in background:
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            reported = _one_line(exc)
            if reported is exc:
                raise exc
            raise reported from exc


def _one_line(exc: BaseException) -> BaseException:
    """The worker's or the scheduler's refusal to go on (--strict and an evicting Redis, or a
    refusal waiting cannot cure) as a WaaspError the CLI prints in one line, not as a group
    of tracebacks; any other error as it is."""
    found: BaseException | None = exc
    if isinstance(exc, BaseExceptionGroup):
        found, _ = exc.split(TaskRuntimeError)
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return WaaspError(str(found)) if isinstance(found, TaskRuntimeError) else exc


async def _to_completion(start: Callable[[], object]) -> None:
    """Run ``start`` in a thread and wait for it to end, even if cancelled meanwhile: a
    thread cannot be interrupted, and what it started must be known to be stopped."""
    future = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


async def _stop_if_ours(server: EmbeddedRedis | EmbeddedPostgres, owned: dict[str, int]) -> None:
    """Stop a server this run launched or took over; leave one it found running."""
    if server.pid is not None and (not server.reused or owned.get(server.name) == server.pid):
        await asyncio.to_thread(server.stop)


async def _quietly(close: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):
        await close()
