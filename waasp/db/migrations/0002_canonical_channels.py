"""0002: contacts' channels in their canonical spelling, sender ids trimmed.

Checks and writes fold channels (``waasp.channels``) and trim sender ids from now on, so rows
written before must be folded too, or a row spelled ``Email`` would never match again. Rows
that fold onto the same (sender, channel) collide: the most restrictive trust level is kept
(blocked, then limited, trusted, sovereign; the oldest row on a tie), and each other row is
removed, audited as ``contact_removed`` (source ``migration``) and logged as
``contact_collision_removed``. A channel folding cannot make safe (``*``, invisible or
look-alike characters) is left as it is and logged as ``channel_needs_attention``: no check
reaches such a row, and an admin should remove it.
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import structlog

from waasp.db.repositories import audit
from waasp.errors import ValidationError
from waasp.models import AuditAction, TrustLevel
from waasp.validation import channel as canonical_channel

log = structlog.get_logger("waasp.db.migrations")

STRICTNESS = {
    TrustLevel.BLOCKED: 0,
    TrustLevel.LIMITED: 1,
    TrustLevel.TRUSTED: 2,
    TrustLevel.SOVEREIGN: 3,
}
Key = tuple[str, str | None]


def _folded(row: asyncpg.Record) -> Key | None:
    """The row's (sender, channel) in canonical form; None when its channel cannot be."""
    try:
        channel = canonical_channel(row["channel"])
    except ValidationError as exc:
        log.warning(
            "channel_needs_attention",
            contact_id=row["id"],
            sender_id=row["sender_id"],
            channel=row["channel"],
            reason=exc.message,
        )
        return None
    return row["sender_id"].strip() or row["sender_id"], channel


async def upgrade(conn: asyncpg.Connection) -> None:
    """Fold every contact; resolve collisions in favour of the most restrictive row."""
    rows = await conn.fetch(
        "SELECT id, sender_id, channel, trust_level FROM contacts ORDER BY id FOR UPDATE"
    )
    groups: dict[Key, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        key = _folded(row)
        if key is not None:
            groups[key].append(row)
    renames: list[tuple[int, str, str | None]] = []
    for (sender, channel), members in groups.items():
        keep = min(members, key=lambda r: (STRICTNESS[TrustLevel(r["trust_level"])], r["id"]))
        for row in members:
            if row is not keep:
                await _remove(conn, row, keep)
        if (keep["sender_id"], keep["channel"]) != (sender, channel):
            renames.append((keep["id"], sender, channel))
    for contact_id, sender, channel in renames:
        await conn.execute(
            "UPDATE contacts SET sender_id = $2, channel = $3, updated_at = now() WHERE id = $1",
            contact_id,
            sender,
            channel,
        )
    log.info("contacts_folded", renamed=len(renames), rows=len(rows))


async def _remove(conn: asyncpg.Connection, row: asyncpg.Record, keep: asyncpg.Record) -> None:
    facts = {
        "contact_id": row["id"],
        "trust_level": row["trust_level"],
        "kept_contact_id": keep["id"],
        "kept_trust_level": keep["trust_level"],
    }
    await conn.execute("DELETE FROM contacts WHERE id = $1", row["id"])
    await audit.insert(
        conn,
        action=AuditAction.CONTACT_REMOVED,
        sender_id=row["sender_id"],
        channel=row["channel"],
        contact_id=None,
        reason="its channel folds onto another contact's (migration 0002)",
        metadata={"source": "migration", **facts},
    )
    log.warning(
        "contact_collision_removed", sender_id=row["sender_id"], channel=row["channel"], **facts
    )
