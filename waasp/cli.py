"""The ``waasp`` command line: argparse subcommands, one function each.

Errors are one line on stderr and a non-zero exit, never a traceback: 1 when an operation
fails, 2 for bad usage or settings, and for ``check`` 0 allowed / 1 not allowed / 2 error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import asyncpg
import orjson

from waasp import __version__, validation
from waasp.api import create_app
from waasp.api.server import run_server, stop_on_signals
from waasp.db.migrate import current_version, migrate
from waasp.db.pool import SCHEMA_ERRORS, UNAVAILABLE_ERRORS, Database, unavailable
from waasp.errors import SettingsError, ValidationError, WaaspError
from waasp.logging import configure_logging
from waasp.models import CheckResult, Contact, TrustLevel
from waasp.service import WhitelistService
from waasp.settings import Settings
from waasp.token import obtain_token, token_path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace, Settings], int]


def _say(message: str) -> None:
    print(message, flush=True)


def _error(message: str) -> None:
    print(f"waasp: error: {message}", file=sys.stderr, flush=True)


def _database_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise SettingsError(
            "WAASP_DATABASE_URL", "is not set (`waasp up` starts an embedded PostgreSQL)"
        )
    return settings.database_url


def _where(channel: str | None) -> str:
    return "on every channel" if channel is None else f"on channel {channel}"


async def _with_service(
    settings: Settings, work: Callable[[WhitelistService], Awaitable[int]]
) -> int:
    database = Database(_database_url(settings), max_size=1)
    await database.open()
    try:
        return await work(WhitelistService(database))
    finally:
        await database.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP API until SIGINT or SIGTERM."""
    settings = replace(
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        database_url=_database_url(settings),
    )
    if settings.api_token is None:
        token, created = obtain_token(settings.data_dir)
        if created:
            _say(f"API token (saved in {token_path(settings.data_dir)}): {token}")
        settings = replace(settings, api_token=token)
    from waasp import tasks  # the task runtime, for notifications and monitoring

    runtime = tasks.configure(settings)
    app = create_app(settings, runtime=runtime, notify=runtime.notify_blocked_sender)

    async def serve() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)

        def listening(url: str) -> None:
            _say(f"WAASP API on {url} (OpenAPI: {url}/api/v1/openapi.json)")

        try:
            await run_server(app, settings.host, settings.port, stop, on_listening=listening)
        finally:
            await runtime.close()

    asyncio.run(serve())
    return EXIT_OK


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API, a worker and the scheduler in one process until SIGINT or SIGTERM."""
    from waasp.up import run_up  # imports the task runtime's worker and scheduler

    settings = replace(
        settings,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
    )

    async def up() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await run_up(settings, stop, _say, strict=args.strict)

    asyncio.run(up())
    return EXIT_OK


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema."""

    async def run() -> int:
        url = _database_url(settings)
        applied = await migrate(url)
        for migration in applied:
            _say(f"applied migration {migration.version:04d}_{migration.name}")
        conn = await asyncpg.connect(url, timeout=10)
        try:
            version = await current_version(conn)
        finally:
            await conn.close()
        _say(f"database schema is at version {version}" + ("" if applied else " (up to date)"))
        return EXIT_OK

    return asyncio.run(run())


def _describe_check(result: CheckResult) -> str:
    verdict = "allowed" if result.allowed else "not allowed"
    who = f", name: {result.name}" if result.name else ""
    return f"{verdict}: {result.reason} (trust: {result.trust or 'none'}{who})"


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check a sender like POST /api/v1/check does (the decision is audited)."""
    request = validation.CheckRequest(
        sender_id=validation.sender_id(args.sender, "SENDER"),
        channel=validation.channel(args.channel, "--channel"),
        message_preview=validation.message_preview(args.message),
    )

    async def work(service: WhitelistService) -> int:
        result = await service.check(request)
        if args.json:
            _say(
                orjson.dumps(
                    {
                        "allowed": result.allowed,
                        "trust": result.trust,
                        "name": result.name,
                        "reason": result.reason,
                    }
                ).decode()
            )
        else:
            _say(_describe_check(result))
        return EXIT_OK if result.allowed else EXIT_FAILURE

    return asyncio.run(_with_service(settings, work))


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a contact."""
    new = validation.NewContact(
        sender_id=validation.sender_id(args.sender, "SENDER"),
        trust_level=validation.trust_level(args.trust, "--trust"),
        channel=validation.channel(args.channel, "--channel"),
        name=validation.optional_text("--name", args.name, validation.NAME_MAX),
        notes=validation.optional_text("--notes", args.notes, validation.NOTES_MAX),
    )

    async def work(service: WhitelistService) -> int:
        contact = await service.add_contact(new, source="cli")
        _say(
            f"added {contact.sender_id} {_where(contact.channel)} "
            f"with trust {contact.trust_level} (id {contact.id})"
        )
        return EXIT_OK

    return asyncio.run(_with_service(settings, work))


def _table(contacts: Sequence[Contact]) -> str:
    rows = [("SENDER", "CHANNEL", "TRUST", "NAME")]
    rows += [(c.sender_id, c.channel or "*", c.trust_level.value, c.name or "") for c in contacts]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """List contacts (channel * means every channel)."""
    trust = validation.trust_level(args.trust, "--trust") if args.trust else None
    channel = validation.channel(args.channel, "--channel")

    async def work(service: WhitelistService) -> int:
        found = await service.list_contacts(trust_level=trust, channel=channel)
        if args.json:
            rows = [
                {
                    "sender_id": c.sender_id,
                    "channel": c.channel,
                    "trust_level": c.trust_level,
                    "name": c.name,
                    "notes": c.notes,
                }
                for c in found
            ]
            _say(orjson.dumps({"contacts": rows, "total": len(rows)}).decode())
        elif found:
            _say(_table(found))
        else:
            _say("no contacts")
        return EXIT_OK

    return asyncio.run(_with_service(settings, work))


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a contact."""
    sender = validation.sender_id(args.sender, "SENDER")
    channel = validation.channel(args.channel, "--channel")

    async def work(service: WhitelistService) -> int:
        contact = await service.remove_contact(sender, channel, source="cli")
        _say(f"removed {contact.sender_id} {_where(contact.channel)}")
        return EXIT_OK

    return asyncio.run(_with_service(settings, work))


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 65535, got {value!r}")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``handler`` and ``error_exit``."""
    parser = argparse.ArgumentParser(prog="waasp", description="A sender gate for AI agents.")
    parser.add_argument("--version", action="version", version=f"waasp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    trusts = [level.value for level in TrustLevel]

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="bind address (default WAASP_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="bind port (default WAASP_PORT or 8000)")
    serve.set_defaults(handler=cmd_serve, error_exit=EXIT_FAILURE)

    up = sub.add_parser(
        "up", help="API + worker + scheduler in one process (embedded servers when no URL is set)"
    )
    up.add_argument("--host", help="bind address (default WAASP_HOST or 127.0.0.1)")
    up.add_argument("--port", type=_port, help="bind port (default WAASP_PORT or 8000)")
    up.add_argument(
        "--strict",
        action="store_true",
        help="stop unless Redis's maxmemory-policy is noeviction (default: warn)",
    )
    up.set_defaults(handler=cmd_up, error_exit=EXIT_FAILURE)

    mig = sub.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    mig.set_defaults(handler=cmd_migrate, error_exit=EXIT_FAILURE)

    check = sub.add_parser("check", help="may this sender pass? exit 0 yes, 1 no, 2 error")
    check.add_argument("sender", metavar="SENDER")
    check.add_argument("--channel", help="the channel the message came on")
    check.add_argument("--message", help="a preview of the message, kept in the audit trail")
    check.add_argument("--json", action="store_true", help="print the answer as JSON")
    check.set_defaults(handler=cmd_check, error_exit=EXIT_USAGE)

    add = sub.add_parser("add", help="add a contact")
    add.add_argument("sender", metavar="SENDER")
    add.add_argument("--trust", required=True, choices=trusts, help="trust level")
    add.add_argument("--name")
    add.add_argument("--channel", help="only on this channel (default: every channel)")
    add.add_argument("--notes")
    add.set_defaults(handler=cmd_add, error_exit=EXIT_FAILURE)

    lst = sub.add_parser("list", help="list contacts")
    lst.add_argument("--trust", choices=trusts)
    lst.add_argument("--channel")
    lst.add_argument("--json", action="store_true", help="print one JSON document")
    lst.set_defaults(handler=cmd_list, error_exit=EXIT_FAILURE)

    remove = sub.add_parser("remove", help="remove a contact")
    remove.add_argument("sender", metavar="SENDER")
    remove.add_argument("--channel", help="the channel row to remove (default: the global row)")
    remove.set_defaults(handler=cmd_remove, error_exit=EXIT_FAILURE)
    return parser


def _explain(exc: BaseException) -> tuple[str, bool]:
    """Return (message, is_usage_error) for an exception a command let through."""
    if isinstance(exc, SettingsError | ValidationError):
        return str(exc), True
    if isinstance(exc, WaaspError):
        return str(exc), False
    if isinstance(exc, UNAVAILABLE_ERRORS + SCHEMA_ERRORS):
        return str(unavailable(exc)), False
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL refused: {exc}", False
    return f"unexpected {type(exc).__name__}: {exc}", False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level)
        return handler(args, settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        message, usage = _explain(exc)
        _error(message)
        return EXIT_USAGE if usage else int(args.error_exit)
