"""Queries on ``contacts``, including the check: one round trip that decides and audits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import asyncpg

from waasp.models import DECISIONS, Contact, Decision, TrustLevel
from waasp.validation import NewContact

if TYPE_CHECKING:
    from waasp.db.pool import Conn

_COLUMNS = "id, sender_id, channel, trust_level, name, notes, created_at, updated_at"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(column: str, pick: str, table: Mapping[TrustLevel | None, Decision]) -> str:
    """Render the decision table as a SQL CASE over ``column`` (constants only, no input)."""
    whens = " ".join(
        f"WHEN {_quote(level.value)} THEN {_quote(getattr(decision, pick))}"
        for level, decision in table.items()
        if level is not None
    )
    return f"CASE {column} {whens} ELSE {_quote(getattr(table[None], pick))} END"


def _check_sql(lock: str) -> str:
    # The check in one statement: find the channel row, else the global row ($2 NULL matches
    # only the global row); write the decision's audit entry with the channel of the check;
    # return the row. `probe` always yields exactly one row, so an unknown sender is audited.
    return f"""
WITH hit AS (
    SELECT id, trust_level, name FROM contacts
    WHERE sender_id = $1 AND (channel = $2 OR channel IS NULL)
    ORDER BY channel NULLS LAST
    LIMIT 1{lock}
), probe AS (
    SELECT hit.id, hit.trust_level, hit.name FROM (VALUES (1)) AS one (x) LEFT JOIN hit ON true
), logged AS (
    INSERT INTO audit_logs (action, sender_id, channel, contact_id, message_preview, reason)
    SELECT {_case("probe.trust_level", "action", DECISIONS)}, $1, $2, probe.id, $3,
           {_case("probe.trust_level", "reason", DECISIONS)}
    FROM probe
)
SELECT id, trust_level, name FROM probe
"""


CHECK_SQL = _check_sql("")
# The same check holding the matched row (FOR KEY SHARE) until the audit row references it:
# a delete that landed first is skipped (the next row, or none, is the answer), and none can
# land in between. Only for a retry after that race, as it writes a lock into the row.
CHECK_SQL_LOCKED = _check_sql(" FOR KEY SHARE")


async def check(
    conn: Conn,
    sender_id: str,
    channel: str | None,
    message_preview: str | None,
    *,
    lock: bool = False,
) -> asyncpg.Record:
    """Decide and audit a check; return the matching contact's (id, trust_level, name).

    ``lock`` holds the matched row while auditing, so the contact cannot be removed in between
    (ForeignKeyViolationError otherwise, when that happens).
    """
    sql = CHECK_SQL_LOCKED if lock else CHECK_SQL
    row = await conn.fetchrow(sql, sender_id, channel, message_preview)
    assert row is not None  # `probe` always has one row
    return row


def to_contact(row: asyncpg.Record) -> Contact:
    """Build a Contact from a row holding every contact column."""
    return Contact(
        id=row["id"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        trust_level=TrustLevel(row["trust_level"]),
        name=row["name"],
        notes=row["notes"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def insert(conn: Conn, new: NewContact) -> Contact:
    """Insert a contact; raises UniqueViolationError if (sender_id, channel) exists."""
    row = await conn.fetchrow(
        f"""INSERT INTO contacts (sender_id, channel, trust_level, name, notes)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        new.sender_id,
        new.channel,
        new.trust_level.value,
        new.name,
        new.notes,
    )
    assert row is not None
    return to_contact(row)


async def get(
    conn: Conn, sender_id: str, channel: str | None, *, for_update: bool = False
) -> Contact | None:
    """Return the row for exactly (sender_id, channel), optionally locking it."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM contacts
            WHERE sender_id = $1 AND channel IS NOT DISTINCT FROM $2{lock}""",
        sender_id,
        channel,
    )
    return None if row is None else to_contact(row)


def _like_pattern(term: str) -> str:
    """``term`` as a LIKE pattern matching it anywhere, its own wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(
    trust_level: TrustLevel | None, channel: str | None, search: str | None
) -> tuple[str, list[object]]:
    """The WHERE clause (possibly empty) and its arguments for a contact listing."""
    conditions: list[str] = []
    args: list[object] = []
    if trust_level is not None:
        args.append(trust_level.value)
        conditions.append(f"trust_level = ${len(args)}")
    if channel is not None:
        args.append(channel)
        conditions.append(f"channel = ${len(args)}")
    if search is not None:
        args.append(_like_pattern(search))
        conditions.append(f"(sender_id ILIKE ${len(args)} OR name ILIKE ${len(args)})")
    return (f"WHERE {' AND '.join(conditions)}" if conditions else ""), args


async def list_contacts(
    conn: Conn,
    trust_level: TrustLevel | None,
    channel: str | None,
    search: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Contact]:
    """Return the contacts matching the filters, ordered by sender then channel: all of them,
    or the page of ``limit`` from ``offset``. ``search`` matches a part of the sender_id or of
    the name, in any case."""
    where, args = _filters(trust_level, channel, search)
    args += [limit, offset]  # LIMIT NULL is no limit
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM contacts {where} ORDER BY sender_id, channel NULLS FIRST
            LIMIT ${len(args) - 1} OFFSET ${len(args)}""",
        *args,
    )
    return [to_contact(row) for row in rows]


async def count(
    conn: Conn, trust_level: TrustLevel | None, channel: str | None, search: str | None = None
) -> int:
    """How many contacts match the filters."""
    where, args = _filters(trust_level, channel, search)
    found: int = await conn.fetchval(f"SELECT count(*) FROM contacts {where}", *args)
    return found


async def update(
    conn: Conn,
    contact_id: int,
    trust_level: TrustLevel,
    name: str | None,
    notes: str | None,
) -> Contact:
    """Overwrite the mutable fields of a contact and bump updated_at."""
    row = await conn.fetchrow(
        f"""UPDATE contacts SET trust_level = $2, name = $3, notes = $4, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""",
        contact_id,
        trust_level.value,
        name,
        notes,
    )
    assert row is not None  # the caller holds the row lock
    return to_contact(row)


async def delete(conn: Conn, sender_id: str, channel: str | None) -> Contact | None:
    """Delete the row for exactly (sender_id, channel); return it, or None if there was none."""
    row = await conn.fetchrow(
        f"""DELETE FROM contacts WHERE sender_id = $1 AND channel IS NOT DISTINCT FROM $2
            RETURNING {_COLUMNS}""",
        sender_id,
        channel,
    )
    return None if row is None else to_contact(row)


def trust_of(value: str | None) -> TrustLevel | None:
    """Parse a trust level read back from the check query (None: unknown sender)."""
    return None if value is None else TrustLevel(value)
