"""Parse the ``waasp`` command line, run the command, report its errors.

Errors are one line on stderr and a non-zero exit, never a traceback: 1 when an operation
fails, 2 for bad usage or settings, and for ``check`` 0 allowed / 1 not allowed / 2 error.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import asyncpg

from waasp import __version__
from waasp.cli import audit, instance, running, whitelist
from waasp.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, Command, error
from waasp.db.pool import SCHEMA_ERRORS, UNAVAILABLE_ERRORS, unavailable
from waasp.errors import SettingsError, ValidationError, WaaspError
from waasp.instance import environ_with_instance
from waasp.interrupts import interrupted, note_interrupts, restore_default
from waasp.logging import configure_logging
from waasp.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets ``handler`` and ``error_exit``."""
    parser = argparse.ArgumentParser(prog="waasp", description="A sender gate for AI agents.")
    parser.add_argument("--version", action="version", version=f"waasp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    instance.add_parsers(sub)
    running.add_parsers(sub)
    whitelist.add_parsers(sub)
    audit.add_parsers(sub)
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


# They hand SIGINT to ``serve_until_signalled``, which acts on one noted while they loaded.
SERVING = frozenset({"serve", "up"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    note_interrupts()  # ``python -m waasp`` did already; the ``waasp`` script did not
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if interrupted():  # a Ctrl-C that something swallowed while this loaded
        return EXIT_INTERRUPTED
    if args.command not in SERVING:
        restore_default()
    handler: Command = args.handler
    try:
        # Every command but ``up`` itself finds the servers of a running ``up`` on its own.
        environ = os.environ if args.command == "up" else environ_with_instance(os.environ)
        settings = Settings.from_env(environ)
        configure_logging(settings.log_format, settings.log_level)
        return handler(args, settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        message, usage = _explain(exc)
        error(message)
        return EXIT_USAGE if usage else int(args.error_exit)
