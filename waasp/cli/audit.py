"""``waasp audit``: the audit trail from a shell, newest first, a page at a time."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Sequence

from waasp import validation
from waasp.api import serialize
from waasp.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    page,
    say_json,
    say_page,
    table,
    with_service,
)
from waasp.errors import ValidationError
from waasp.models import AuditAction, AuditEntry
from waasp.service import WhitelistService
from waasp.settings import Settings

CLI_LIMIT_DEFAULT = 20
SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``--since``: an ISO 8601 time (UTC unless it says otherwise), or a span back from now:
    ``90s``, ``30m``, ``12h``, ``7d``, ``2w``."""
    amount, unit = text[:-1], text[-1:]
    if amount.isdigit() and unit in SECONDS_PER:
        start = now or dt.datetime.now(dt.UTC)
        return start - dt.timedelta(seconds=int(amount) * SECONDS_PER[unit])
    parsed = validation.timestamp("--since", text)
    if parsed is None:
        raise ValidationError("--since", "must not be empty")
    return parsed


def _detail(entry: AuditEntry) -> str:
    if entry.reason:
        return entry.reason
    shown_fields = {k: v for k, v in entry.metadata.items() if k != "source"}
    return " ".join(f"{key}={value}" for key, value in shown_fields.items())


def _table(entries: Sequence[AuditEntry]) -> str:
    rows = [("TIME", "ACTION", "SENDER", "CHANNEL", "DETAIL")]
    rows += [
        (
            entry.created_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            entry.action,
            entry.sender_id,
            entry.channel or "*",
            _detail(entry),
        )
        for entry in entries
    ]
    return table(rows)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Show the audit trail, newest first, filtered by sender, action, channel and time."""
    limit, offset = page(args, validation.AUDIT_LIMIT_MAX)
    query = validation.AuditQuery(
        sender_id=validation.sender_id(args.sender, "--sender") if args.sender else None,
        action=AuditAction(args.action) if args.action else None,
        channel=validation.channel(args.channel, "--channel"),
        limit=limit,
        offset=offset,
        since=since(args.since) if args.since else None,
    )

    async def work(service: WhitelistService) -> int:
        entries = await service.list_audit(query)
        total = await service.count_audit(query)
        if args.json:
            say_json(
                {
                    "logs": [serialize.audit_entry(entry) for entry in entries],
                    "count": len(entries),
                    "total": total,
                    "limit": limit,
                    "offset": offset,
                }
            )
            return EXIT_OK
        say_page(_table(entries) if entries else "no audit entries", offset, len(entries), total)
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register audit."""
    audit = sub.add_parser("audit", help="the audit trail, newest first")
    audit.add_argument("--sender", help="only this sender")
    audit.add_argument("--action", choices=[action.value for action in AuditAction])
    audit.add_argument("--channel", help="only this channel")
    audit.add_argument("--since", help="ISO 8601 time, or a span back from now: 30m, 12h, 7d")
    audit.add_argument("--limit", type=int, default=CLI_LIMIT_DEFAULT)
    audit.add_argument("--offset", type=int, default=0)
    audit.add_argument("--json", action="store_true", help="print one JSON document")
    audit.set_defaults(handler=cmd_audit, error_exit=EXIT_FAILURE)
