"""``waasp up``: the API, a worker on every queue and the scheduler, in one event loop.

With no ``WAASP_REDIS_URL`` / ``WAASP_DATABASE_URL`` it starts the embedded servers under
the data dir first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace

import structlog

from waasp import tasks
from waasp.api import create_app
from waasp.api.readiness import worker_probe
from waasp.api.server import run_server
from waasp.db.migrate import migrate
from waasp.embedded import embedded_servers
from waasp.errors import WaaspError
from waasp.runtime import Scheduler, TaskRuntimeError, Worker
from waasp.settings import Settings
from waasp.token import obtain_token, token_path

log = structlog.get_logger("waasp.up")


async def run_up(
    settings: Settings, stop: asyncio.Event, say: Callable[[str], None], *, strict: bool = False
) -> None:
    """Run everything until ``stop`` is set, then drain and stop it all. With ``strict``, stop
    with an error unless Redis's maxmemory-policy is noeviction (else the worker warns)."""
    async with embedded_servers(
        settings.data_dir,
        need_redis=settings.redis_url is None,
        need_postgres=settings.database_url is None,
    ) as servers:
        if servers.redis is not None:
            settings = replace(
                settings,
                redis_url=servers.redis.url,
                result_url=settings.result_url or servers.redis.db_url(1),
            )
        if servers.postgres is not None:
            settings = replace(settings, database_url=servers.postgres.url)
        assert settings.database_url is not None
        for migration in await migrate(settings.database_url):
            say(f"applied migration {migration.version:04d}_{migration.name}")
        if settings.api_token is None:
            token, created = obtain_token(settings.data_dir)
            settings = replace(settings, api_token=token)
            where = (
                f" (new, saved in {token_path(settings.data_dir)})"
                if created
                else (f" (from {token_path(settings.data_dir)})")
            )
            say(f"API token{where}: {token}")
        await _serve_all(settings, stop, say, strict)


async def _serve_all(
    settings: Settings, stop: asyncio.Event, say: Callable[[str], None], strict: bool
) -> None:
    runtime = tasks.configure(settings)
    worker = Worker(runtime, list(tasks.QUEUES), settings.worker_concurrency, strict=strict)
    scheduler = Scheduler(runtime)
    app = create_app(
        settings,
        runtime=runtime,
        notify=runtime.notify_blocked_sender,
        readiness_probes=[worker_probe(worker)],
    )

    def listening(url: str) -> None:
        say(
            f"WAASP is up: API {url}/api/v1  dashboard {url}/dashboard  "
            f"(worker on {','.join(tasks.QUEUES)}, scheduler running; Ctrl-C stops)"
        )

    try:
        async with asyncio.TaskGroup() as group:
            working = group.create_task(worker.run(), name="worker")
            scheduling = group.create_task(scheduler.run(), name="scheduler")
            await run_server(app, settings.host, settings.port, stop, on_listening=listening)
            worker.stop()
            scheduler.stop()
            await asyncio.wait([working, scheduling])
    except BaseExceptionGroup as errors:
        # The worker or the scheduler refused to go on (--strict and an evicting Redis, or a
        # refusal waiting cannot cure): say it in one line, not as a group of tracebacks.
        stopped, _ = errors.split(TaskRuntimeError)
        if stopped is None:
            raise
        first: BaseException = stopped
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise WaaspError(str(first)) from first
    finally:
        with contextlib.suppress(Exception):
            await runtime.close()
    log.info("waasp_stopped")
