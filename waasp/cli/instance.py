"""``waasp serve|up|migrate``: run WAASP, or prepare its database."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace

import asyncpg

from waasp.api import create_app
from waasp.api.processes import READY, supervise, watch_parent
from waasp.api.server import listen, run_server, serve_until_signalled
from waasp.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    database_url,
    port,
    process_count,
    say,
    say_json,
)
from waasp.db.migrate import current_version, migrate
from waasp.instance import environ_with_instance
from waasp.settings import Settings
from waasp.token import obtain_token, token_path


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP API until SIGINT or SIGTERM (in ``--processes`` processes)."""
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        database_url=database_url(settings),
    )
    if args.processes > 1:
        return _serve_processes(args.processes, settings)
    child = args.child_of is not None
    # A port in use fails first, in one line.
    sockets = listen(settings.host, settings.port, reuse_port=child)
    settings = _with_token(settings)
    from waasp import tasks  # the task runtime, for notifications and monitoring

    runtime = tasks.configure(settings)
    app = create_app(settings, runtime=runtime, notify=runtime.notify_blocked_sender)

    async def serve(stop: asyncio.Event) -> None:
        def listening(url: str) -> None:
            if child:  # the parent reads this, and tells the operator once for all
                print(READY + url, flush=True)
            else:
                say(f"WAASP API on {url} (OpenAPI: {url}/api/v1/openapi.json)")

        watcher = asyncio.create_task(watch_parent(stop, args.child_of)) if child else None
        try:
            await run_server(
                app, settings.host, settings.port, stop, on_listening=listening, sockets=sockets
            )
        finally:
            if watcher is not None:
                watcher.cancel()
            await runtime.close()

    serve_until_signalled(serve)
    return EXIT_OK


def _with_token(settings: Settings) -> Settings:
    if settings.api_token is not None:
        return settings
    token, created = obtain_token(settings.data_dir)
    path = token_path(settings.data_dir)
    if created:
        say(f"API token (new, saved in {path}): {token}")
    else:
        say(f"API token: stored in {path} (read it with: cat {path})")
    return replace(settings, api_token=token)


def _serve_processes(count: int, settings: Settings) -> int:
    """Hold the port, start ``count`` ``waasp serve`` children sharing it (SO_REUSEPORT),
    and supervise them (see waasp.api.processes)."""
    held = listen(settings.host, settings.port, reuse_port=True, backlog=None)
    port = held[0].getsockname()[1]  # port 0: the one every child takes
    settings = _with_token(settings)
    assert settings.api_token is not None and settings.database_url is not None
    env = {
        **environ_with_instance(os.environ),
        "WAASP_API_TOKEN": settings.api_token,
        "WAASP_DATABASE_URL": settings.database_url,
    }
    command = [sys.executable, "-m", "waasp", "serve", "--host", settings.host]
    command += ["--port", str(port), "--child-of", str(os.getpid())]
    status = EXIT_OK

    def listening(url: str) -> None:
        say(f"WAASP API on {url} in {count} processes (OpenAPI: {url}/api/v1/openapi.json)")

    async def run(stop: asyncio.Event) -> None:
        nonlocal status
        status = await supervise(command, env, count, stop, listening)

    try:
        serve_until_signalled(run)
    finally:
        for sock in held:
            sock.close()
    return status


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API, a worker and the scheduler in one process until SIGINT or SIGTERM."""
    from waasp.up import run_up  # imports the task runtime's worker and scheduler

    settings = replace(
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
    )

    async def up(stop: asyncio.Event) -> None:
        await run_up(settings, stop, say, strict=args.strict)

    serve_until_signalled(up)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema."""

    async def run() -> int:
        url = database_url(settings)
        applied = await migrate(url)
        names = [f"{migration.version:04d}_{migration.name}" for migration in applied]
        conn = await asyncpg.connect(url, timeout=10)
        try:
            version = await current_version(conn)
        finally:
            await conn.close()
        if args.json:
            say_json({"applied": names, "version": version})
            return EXIT_OK
        for name in names:
            say(f"applied migration {name}")
        say(f"database schema is at version {version}" + ("" if applied else " (up to date)"))
        return EXIT_OK

    return asyncio.run(run())


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register serve, up and migrate."""
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="bind address (default WAASP_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=port, help="bind port (default WAASP_PORT or 8000)")
    serve.add_argument(
        "--processes",
        type=process_count,
        default=1,
        metavar="N",
        help="API processes sharing the port (SO_REUSEPORT), e.g. one per core (default 1)",
    )
    # Internal: the pid of the ``--processes`` parent that started this one.
    serve.add_argument("--child-of", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(handler=cmd_serve, error_exit=EXIT_FAILURE)

    up = sub.add_parser(
        "up", help="API + worker + scheduler in one process (embedded servers when no URL is set)"
    )
    up.add_argument("--host", help="bind address (default WAASP_HOST or 127.0.0.1)")
    up.add_argument("--port", type=port, help="bind port (default WAASP_PORT or 8000)")
    up.add_argument(
        "--strict",
        action="store_true",
        help="stop unless Redis's maxmemory-policy is noeviction (default: warn)",
    )
    up.set_defaults(handler=cmd_up, error_exit=EXIT_FAILURE)

    mig = sub.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    mig.add_argument("--json", action="store_true", help="print one JSON document")
    mig.set_defaults(handler=cmd_migrate, error_exit=EXIT_FAILURE)
