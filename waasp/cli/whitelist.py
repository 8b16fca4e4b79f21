"""``waasp check|add|list|remove``: the whitelist from a shell, straight to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import orjson

from waasp import validation
from waasp.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, say, where, with_service
from waasp.models import CheckResult, Contact, TrustLevel
from waasp.service import WhitelistService
from waasp.settings import Settings


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
            say(
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
            say(_describe_check(result))
        return EXIT_OK if result.allowed else EXIT_FAILURE

    return asyncio.run(with_service(settings, work))


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
        say(
            f"added {contact.sender_id} {where(contact.channel)} "
            f"with trust {contact.trust_level} (id {contact.id})"
        )
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


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
            say(orjson.dumps({"contacts": rows, "total": len(rows)}).decode())
        elif found:
            say(_table(found))
        else:
            say("no contacts")
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a contact."""
    sender = validation.sender_id(args.sender, "SENDER")
    channel = validation.channel(args.channel, "--channel")

    async def work(service: WhitelistService) -> int:
        contact = await service.remove_contact(sender, channel, source="cli")
        say(f"removed {contact.sender_id} {where(contact.channel)}")
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register check, add, list and remove."""
    trusts = [level.value for level in TrustLevel]

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
