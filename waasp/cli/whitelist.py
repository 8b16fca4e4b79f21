"""``waasp check|add|list|update|remove``: the whitelist from a shell, straight to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence

import structlog

from waasp import validation
from waasp.api import serialize
from waasp.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    page,
    say,
    say_json,
    say_page,
    table,
    where,
    with_service,
)
from waasp.errors import ValidationError
from waasp.models import CheckResult, Contact, TrustLevel
from waasp.service import WhitelistService
from waasp.settings import Settings

TRUSTS = [level.value for level in TrustLevel]


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
        # An id like the API's, so the check's log lines and its JSON can be matched up.
        request_id = uuid.uuid4().hex
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            result = await service.check(request)
        if args.json:
            # What the API shows the admin token: the CLI reads PostgreSQL as the admin.
            say_json(serialize.check_result(result, request_id, full=True))
        else:
            say(_describe_check(result))
        return EXIT_OK if result.allowed else EXIT_FAILURE

    return asyncio.run(with_service(settings, work))


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a contact."""
    new = validation.NewContact(
        sender_id=validation.sender_id(args.sender, "SENDER"),
        trust_level=validation.trust_level(args.trust, "--trust"),  # default: trusted
        channel=validation.channel(args.channel, "--channel"),
        name=validation.optional_text("--name", args.name, validation.NAME_MAX),
        notes=validation.optional_text("--notes", args.notes, validation.NOTES_MAX),
    )

    async def work(service: WhitelistService) -> int:
        contact = await service.add_contact(new, source="cli")
        if args.json:
            say_json(serialize.contact(contact))
        else:
            say(
                f"added {contact.sender_id} {where(contact.channel)} "
                f"with trust {contact.trust_level} (id {contact.id})"
            )
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def _table(contacts: Sequence[Contact]) -> str:
    rows = [("SENDER", "CHANNEL", "TRUST", "NAME")]
    rows += [(c.sender_id, c.channel or "*", c.trust_level.value, c.name or "") for c in contacts]
    return table(rows)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """List contacts, a page at a time (channel * means every channel)."""
    trust = validation.trust_level(args.trust, "--trust") if args.trust else None
    channel = validation.channel(args.channel, "--channel")
    search = validation.search(args.search, "--search")
    limit, offset = page(args, validation.CONTACTS_LIMIT_MAX)

    async def work(service: WhitelistService) -> int:
        found = await service.list_contacts(trust, channel, search, limit=limit, offset=offset)
        total = await service.count_contacts(trust, channel, search)
        if args.json:
            rows = [serialize.contact(c) for c in found]
            say_json({"contacts": rows, "total": total, "limit": limit, "offset": offset})
            return EXIT_OK
        say_page(_table(found) if found else "no contacts", offset, len(found), total)
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    """Change a contact's trust level, name or notes (an empty value clears a name or notes)."""
    sender = validation.sender_id(args.sender, "SENDER")
    channel = validation.channel(args.channel, "--channel")
    if args.trust is None and args.name is None and args.notes is None:
        raise ValidationError("update", "give at least one of --trust, --name, --notes")
    changes = validation.ContactChanges(
        trust_level=validation.UNSET
        if args.trust is None
        else validation.trust_level(args.trust, "--trust"),
        name=_cleared("--name", args.name, validation.NAME_MAX),
        notes=_cleared("--notes", args.notes, validation.NOTES_MAX),
    )

    async def work(service: WhitelistService) -> int:
        contact = await service.update_contact(sender, channel, changes, source="cli")
        if args.json:
            say_json(serialize.contact(contact))
        else:
            say(
                f"updated {contact.sender_id} {where(contact.channel)}: trust "
                f"{contact.trust_level}, name {contact.name or '-'}"
            )
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def _cleared(field: str, value: str | None, max_length: int) -> str | validation.Unset | None:
    """UNSET when the option is absent; None (clear it) when it is empty."""
    if value is None:
        return validation.UNSET
    return validation.optional_text(field, value or None, max_length)


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a contact."""
    sender = validation.sender_id(args.sender, "SENDER")
    channel = validation.channel(args.channel, "--channel")

    async def work(service: WhitelistService) -> int:
        contact = await service.remove_contact(sender, channel, source="cli")
        if args.json:
            say_json(serialize.contact(contact))
        else:
            say(f"removed {contact.sender_id} {where(contact.channel)}")
        return EXIT_OK

    return asyncio.run(with_service(settings, work))


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register check, add, list, update and remove."""

    check = sub.add_parser("check", help="may this sender pass? exit 0 yes, 1 no, 2 error")
    check.add_argument("sender", metavar="SENDER")
    check.add_argument("--channel", help="the channel the message came on")
    check.add_argument("--message", help="a preview of the message, kept in the audit trail")
    check.add_argument("--json", action="store_true", help="print the answer as JSON")
    check.set_defaults(handler=cmd_check, error_exit=EXIT_USAGE)

    add = sub.add_parser("add", help="add a contact")
    _contact_options(add, "only on this channel (default: every channel)")
    add.set_defaults(handler=cmd_add, error_exit=EXIT_FAILURE, trust="trusted")

    lst = sub.add_parser("list", help="list contacts, a page at a time")
    lst.add_argument("--trust", choices=TRUSTS)
    lst.add_argument("--channel")
    lst.add_argument("--search", help="a part of the sender or of the name, in any case")
    lst.add_argument("--limit", type=int, default=validation.CONTACTS_LIMIT_DEFAULT)
    lst.add_argument("--offset", type=int, default=0)
    lst.add_argument("--json", action="store_true", help="print one JSON document")
    lst.set_defaults(handler=cmd_list, error_exit=EXIT_FAILURE)

    update = sub.add_parser("update", help="change a contact's trust, name or notes")
    _contact_options(update, "the channel row to change (default: the global row)")
    update.set_defaults(handler=cmd_update, error_exit=EXIT_FAILURE)

    remove = sub.add_parser("remove", help="remove a contact")
    remove.add_argument("sender", metavar="SENDER")
    remove.add_argument("--channel", help="the channel row to remove (default: the global row)")
    remove.add_argument("--json", action="store_true", help="print the removed contact as JSON")
    remove.set_defaults(handler=cmd_remove, error_exit=EXIT_FAILURE)


def _contact_options(parser: argparse.ArgumentParser, channel_help: str) -> None:
    """SENDER and the options of ``add`` and ``update``."""
    parser.add_argument("sender", metavar="SENDER")
    parser.add_argument("--channel", help=channel_help)
    parser.add_argument("--trust", choices=TRUSTS, help="trust level (add: trusted)")
    parser.add_argument("--name", help='the name (update: "" clears it)')
    parser.add_argument("--notes", help='free text (update: "" clears it)')
    parser.add_argument("--json", action="store_true", help="print the contact as JSON")
