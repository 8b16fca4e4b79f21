"""Queries on ``audit_logs`` and ``audit_stats_hourly``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from waasp.db.repositories.contacts import to_contact
from waasp.models import (
    AuditAction,
    AuditEntry,
    AuditStats,
    BlockedSender,
    HourlyStat,
    RecentBlocked,
)
from waasp.validation import AuditQuery

if TYPE_CHECKING:
    from waasp.db.pool import Conn

_COLUMNS = (
    "id, action, sender_id, channel, contact_id, message_preview, metadata, reason, created_at"
)


async def insert(
    conn: Conn,
    *,
    action: AuditAction,
    sender_id: str,
    channel: str | None,
    contact_id: int | None,
    reason: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit entry for an admin change."""
    await conn.execute(
        """INSERT INTO audit_logs (action, sender_id, channel, contact_id, reason, metadata)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
        action.value,
        sender_id,
        channel,
        contact_id,
        reason,
        orjson.dumps(metadata or {}).decode(),
    )


def to_entry(row: asyncpg.Record) -> AuditEntry:
    """Build an AuditEntry from a row holding every audit column."""
    return AuditEntry(
        id=row["id"],
        action=row["action"],
        sender_id=row["sender_id"],
        channel=row["channel"],
        contact_id=row["contact_id"],
        message_preview=row["message_preview"],
        metadata=orjson.loads(row["metadata"]),
        reason=row["reason"],
        created_at=row["created_at"],
    )


def _filters(query: AuditQuery) -> tuple[str, list[object]]:
    """The WHERE clause (possibly empty) and its arguments for an audit listing."""
    # Only the filters given become SQL, so each combination gets a plan that uses its index.
    conditions: list[str] = []
    args: list[object] = []
    for column, value in (
        ("sender_id", query.sender_id),
        ("action", query.action.value if query.action else None),
        ("channel", query.channel),
    ):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    if query.since is not None:
        args.append(query.since)
        conditions.append(f"created_at >= ${len(args)}")
    return (f"WHERE {' AND '.join(conditions)}" if conditions else ""), args


async def list_entries(conn: Conn, query: AuditQuery) -> list[AuditEntry]:
    """Return one page of entries matching the query, newest first."""
    where, args = _filters(query)
    args += [query.limit, query.offset]
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_logs {where}
            ORDER BY created_at DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}""",
        *args,
    )
    return [to_entry(row) for row in rows]


async def count(conn: Conn, query: AuditQuery) -> int:
    """How many entries match the query's filters (its page aside)."""
    where, args = _filters(query)
    found: int = await conn.fetchval(f"SELECT count(*) FROM audit_logs {where}", *args)
    return found


async def stats(conn: Conn, hourly_window_hours: int = 24) -> AuditStats:
    """Count entries per action, and read the hourly rollups of the last window."""
    rows = await conn.fetch("SELECT action, count(*) AS n FROM audit_logs GROUP BY action")
    by_action = {row["action"]: row["n"] for row in sorted(rows, key=lambda r: r["action"])}
    # Filled by the aggregate_audit_stats task (waasp.tasks), one row per hour, action, channel.
    hourly_rows = await conn.fetch(
        """SELECT hour, action, channel, count FROM audit_stats_hourly
           WHERE hour >= date_trunc('hour', now()) - make_interval(hours => $1)
           ORDER BY hour, action, channel NULLS FIRST""",
        hourly_window_hours,
    )
    hourly = tuple(
        HourlyStat(hour=r["hour"], action=r["action"], channel=r["channel"], count=r["count"])
        for r in hourly_rows
    )
    return AuditStats(total_entries=sum(by_action.values()), by_action=by_action, hourly=hourly)


# Blocked checks since $1 per (sender, channel), the $2 most refused, each with the contact a
# check there would match now (its channel's row, else the global row): the admin sees who
# is refused and why. The range is served by audit_logs_action_created_idx.
_RECENT_BLOCKED_SQL = f"""
WITH recent AS (
    SELECT sender_id, channel, count(*) AS checks,
           min(created_at) AS first_seen, max(created_at) AS last_seen
    FROM audit_logs
    WHERE action = '{AuditAction.BLOCKED.value}' AND created_at >= $1
    GROUP BY sender_id, channel
), top AS (
    SELECT *, count(*) OVER () AS senders, sum(checks) OVER () AS total
    FROM recent
    ORDER BY checks DESC, last_seen DESC, sender_id, channel NULLS FIRST
    LIMIT $2
)
SELECT top.*, (
    SELECT c FROM contacts c
    WHERE c.sender_id = top.sender_id AND (c.channel = top.channel OR c.channel IS NULL)
    ORDER BY c.channel NULLS LAST
    LIMIT 1
) AS contact
FROM top
ORDER BY checks DESC, last_seen DESC, sender_id, channel NULLS FIRST
"""


async def recent_blocked(conn: Conn, window: timedelta, limit: int) -> RecentBlocked:
    """The senders refused in the last ``window`` (by the database's clock), most refused
    first, at most ``limit`` of them, with the window's totals."""
    since = await conn.fetchval("SELECT now() - $1::interval", window)
    rows = await conn.fetch(_RECENT_BLOCKED_SQL, since, limit)
    blocked = tuple(
        BlockedSender(
            sender_id=row["sender_id"],
            channel=row["channel"],
            checks=row["checks"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            contact=None if row["contact"] is None else to_contact(row["contact"]),
        )
        for row in rows
    )
    checks = int(rows[0]["total"]) if rows else 0
    senders = int(rows[0]["senders"]) if rows else 0
    return RecentBlocked(window, since, checks, senders, blocked)
