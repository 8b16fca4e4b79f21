"""``waasp serve|up|migrate``: run WAASP, or prepare its database."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

import asyncpg

from waasp.api import create_app
from waasp.api.server import listen, run_server, serve_until_signalled
from waasp.cli.common import EXIT_FAILURE, EXIT_OK, database_url, port, say, say_json
from waasp.db.migrate import current_version, migrate
from waasp.settings import Settings
from waasp.token import obtain_token, token_path


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP API until SIGINT or SIGTERM."""
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        database_url=database_url(settings),
    )
    sockets = listen(settings.host, settings.port)  # a port in use fails first, in one line
    if settings.api_token is None:
        token, created = obtain_token(settings.data_dir)
        path = token_path(settings.data_dir)
        if created:
            say(f"API token (new, saved in {path}): {token}")
        else:
            say(f"API token: stored in {path} (read it with: cat {path})")
        settings = replace(settings, api_token=token)
    from waasp import tasks  # the task runtime, for notifications and monitoring

    runtime = tasks.configure(settings)
    app = create_app(settings, runtime=runtime, notify=runtime.notify_blocked_sender)

    async def serve(stop: asyncio.Event) -> None:
        def listening(url: str) -> None:
            say(f"WAASP API on {url} (OpenAPI: {url}/api/v1/openapi.json)")

        try:
            await run_server(
                app, settings.host, settings.port, stop, on_listening=listening, sockets=sockets
            )
        finally:
            await runtime.close()

    serve_until_signalled(serve)
    return EXIT_OK


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
