"""What every ``waasp`` command shares: exit codes, output, the database connection."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from waasp.db.pool import Database
from waasp.errors import SettingsError, ValidationError
from waasp.service import WhitelistService
from waasp.settings import Settings, parse_port

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace, Settings], int]


def say(message: str) -> None:
    """Print a line on stdout at once."""
    print(message, flush=True)


def say_json(document: Any) -> None:
    """Print one JSON document on stdout (times as ISO 8601)."""
    say(orjson.dumps(document).decode())


def error(message: str) -> None:
    """Print ``waasp: error: message`` on stderr."""
    print(f"waasp: error: {message}", file=sys.stderr, flush=True)


def database_url(settings: Settings) -> str:
    """The PostgreSQL URL, or a SettingsError saying how to get one."""
    if settings.database_url is None:
        raise SettingsError(
            "WAASP_DATABASE_URL",
            f"is not set, and no `waasp up` runs on the data dir {settings.data_dir.resolve()} "
            "(start one there, or set WAASP_DATA_DIR or WAASP_DATABASE_URL)",
        )
    return settings.database_url


def where(channel: str | None) -> str:
    """``on every channel`` or ``on channel C``."""
    return "on every channel" if channel is None else f"on channel {channel}"


async def with_service(
    settings: Settings, work: Callable[[WhitelistService], Awaitable[int]]
) -> int:
    """Run ``work`` with a service on a one-connection pool, closed afterwards."""
    database = Database(database_url(settings), max_size=1)
    await database.open()
    try:
        return await work(WhitelistService(database))
    finally:
        await database.close()


def port(value: str) -> int:
    """An argparse type: a TCP port number."""
    try:
        return parse_port(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def process_count(value: str) -> int:
    """An argparse type: how many processes (a whole number, at least 1)."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {count}")
    return count


def page(args: argparse.Namespace, high: int) -> tuple[int, int]:
    """The ``--limit`` (1 to ``high``) and ``--offset`` (0 or more) of a listing."""
    if not 1 <= args.limit <= high:
        raise ValidationError("--limit", f"must be from 1 to {high}")
    if args.offset < 0:
        raise ValidationError("--offset", "must be 0 or more")
    return args.limit, args.offset


def say_page(listing: str, offset: int, count: int, total: int) -> None:
    """Print a page of a listing and, when there is more than this page, where it is in the
    total: ``1-100 of 250 (--offset 100 for more)``."""
    say(listing)
    if offset + count < total or offset:
        first = offset + 1 if count else offset
        more = f" (--offset {offset + count} for more)" if offset + count < total else ""
        say(f"{first}-{offset + count} of {total}{more}")


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells (the first row the header) as aligned columns; the last column, free
    text, is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    )
