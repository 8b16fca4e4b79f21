"""WhitelistService: the domain rules, over the repositories, one transaction per change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

import asyncpg
import structlog

from waasp.db.pool import Database
from waasp.db.repositories import audit, contacts
from waasp.errors import ConflictError, ContentionError, NotFoundError
from waasp.models import (
    AuditAction,
    AuditEntry,
    AuditStats,
    CheckResult,
    Contact,
    RecentBlocked,
    TrustLevel,
    decide,
)
from waasp.validation import UNSET, AuditQuery, CheckRequest, ContactChanges, NewContact

log = structlog.get_logger(__name__)

# A check whose contact is removed while it runs is decided again, holding the row it finds
# (see contacts.CHECK_SQL_LOCKED), which that race cannot hit; the bound is only a backstop.
CHECK_ATTEMPTS = 4


class BlockedSenderNotifier(Protocol):
    """Told about every blocked check, after the decision."""

    def sender_blocked(self, sender_id: str, channel: str | None) -> None:
        """Take note of a blocked sender and return at once: the check is answered after this
        returns, so anything slow (enqueueing a notification) happens later, elsewhere."""


def _where(channel: str | None) -> str:
    return "on every channel" if channel is None else f"on channel {channel!r}"


class WhitelistService:
    """Check senders against the whitelist and administer it, auditing every step once.

    Inputs come already validated (see ``waasp.validation``).
    """

    def __init__(self, database: Database, notifier: BlockedSenderNotifier | None = None) -> None:
        self._db = database
        self._notifier = notifier

    async def check(self, request: CheckRequest) -> CheckResult:
        """Decide whether the sender may pass, and audit the decision (one round trip)."""
        row = await self._check_consistently(request)
        trust = contacts.trust_of(row["trust_level"])
        decision = decide(trust)
        if not decision.allowed:
            self._notify_blocked(request.sender_id, request.channel)
        return CheckResult(
            allowed=decision.allowed,
            trust=trust,
            name=row["name"],
            reason=decision.reason,
            action=decision.action,
        )

    async def _check_consistently(self, request: CheckRequest) -> asyncpg.Record:
        for attempt in range(CHECK_ATTEMPTS):
            try:
                return await self._check_once(request, lock=attempt > 0)
            except asyncpg.ForeignKeyViolationError:
                # The matching contact was removed between our lookup and our audit insert;
                # nothing was written, so deciding again cannot audit twice.
                log.info("check_retried", reason="contact removed during the check")
        raise ContentionError("the contact kept changing during the check; try again")

    async def _check_once(self, request: CheckRequest, *, lock: bool) -> asyncpg.Record:
        async with self._db.connection() as conn:
            return await contacts.check(
                conn, request.sender_id, request.channel, request.message_preview, lock=lock
            )

    def _notify_blocked(self, sender_id: str, channel: str | None) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier.sender_blocked(sender_id, channel)
        except Exception:
            # A failed notification never fails the check that caused it.
            log.exception(
                "blocked_sender_notification_failed", sender_id=sender_id, channel=channel
            )

    async def add_contact(self, new: NewContact, *, source: str = "api") -> Contact:
        """Add a contact; ConflictError if (sender_id, channel) already exists."""
        try:
            async with self._db.transaction() as conn:
                contact = await contacts.insert(conn, new)
                await audit.insert(
                    conn,
                    action=AuditAction.CONTACT_ADDED,
                    sender_id=contact.sender_id,
                    channel=contact.channel,
                    contact_id=contact.id,
                    metadata={"source": source, "trust_level": contact.trust_level.value},
                )
        except asyncpg.UniqueViolationError:
            raise ConflictError(
                f"a contact for this sender_id already exists {_where(new.channel)}"
            ) from None
        return contact

    async def get_contact(self, sender_id: str, channel: str | None) -> Contact:
        """Return the contact for exactly (sender_id, channel); NotFoundError if none."""
        async with self._db.connection() as conn:
            contact = await contacts.get(conn, sender_id, channel)
        if contact is None:
            raise NotFoundError(f"no contact for this sender_id {_where(channel)}")
        return contact

    async def list_contacts(
        self,
        trust_level: TrustLevel | None = None,
        channel: str | None = None,
        search: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Contact]:
        """Return the contacts with this trust level and/or channel (all if neither) whose
        sender_id or name contains ``search`` (any case), if given: all of them, or the page of
        ``limit`` from ``offset``."""
        async with self._db.connection() as conn:
            return await contacts.list_contacts(
                conn, trust_level, channel, search, limit=limit, offset=offset
            )

    async def count_contacts(
        self,
        trust_level: TrustLevel | None = None,
        channel: str | None = None,
        search: str | None = None,
    ) -> int:
        """How many contacts ``list_contacts`` would return without a page."""
        async with self._db.connection() as conn:
            return await contacts.count(conn, trust_level, channel, search)

    async def update_contact(
        self, sender_id: str, channel: str | None, changes: ContactChanges, *, source: str = "api"
    ) -> Contact:
        """Apply a PATCH. A trust change is audited as trust_changed, anything else as
        contact_updated; a PATCH that changes nothing writes nothing."""
        async with self._db.transaction() as conn:
            old = await contacts.get(conn, sender_id, channel, for_update=True)
            if old is None:
                raise NotFoundError(f"no contact for this sender_id {_where(channel)}")
            trust = old.trust_level if changes.trust_level is UNSET else changes.trust_level
            name = old.name if changes.name is UNSET else changes.name
            notes = old.notes if changes.notes is UNSET else changes.notes
            changed = [
                field
                for field, before, after in (
                    ("trust_level", old.trust_level, trust),
                    ("name", old.name, name),
                    ("notes", old.notes, notes),
                )
                if before != after
            ]
            if not changed:
                return old
            new = await contacts.update(conn, old.id, trust, name, notes)
            metadata: dict[str, Any] = {"source": source, "changed": changed}
            action = AuditAction.CONTACT_UPDATED
            if trust != old.trust_level:
                action = AuditAction.TRUST_CHANGED
                metadata.update(previous_trust=old.trust_level.value, trust_level=trust.value)
            await audit.insert(
                conn,
                action=action,
                sender_id=new.sender_id,
                channel=new.channel,
                contact_id=new.id,
                metadata=metadata,
            )
            return new

    async def remove_contact(
        self, sender_id: str, channel: str | None, *, source: str = "api"
    ) -> Contact:
        """Remove the contact for exactly (sender_id, channel); NotFoundError if none."""
        async with self._db.transaction() as conn:
            old = await contacts.delete(conn, sender_id, channel)
            if old is None:
                raise NotFoundError(f"no contact for this sender_id {_where(channel)}")
            # contact_id stays NULL (the row is gone); the id survives in the metadata.
            await audit.insert(
                conn,
                action=AuditAction.CONTACT_REMOVED,
                sender_id=old.sender_id,
                channel=old.channel,
                contact_id=None,
                metadata={
                    "source": source,
                    "contact_id": old.id,
                    "trust_level": old.trust_level.value,
                },
            )
        return old

    async def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Return one page of the audit trail, newest first."""
        async with self._db.connection() as conn:
            return await audit.list_entries(conn, query)

    async def count_audit(self, query: AuditQuery) -> int:
        """How many audit entries match the query's filters."""
        async with self._db.connection() as conn:
            return await audit.count(conn, query)

    async def recent_blocked(self, window: timedelta, limit: int) -> RecentBlocked:
        """Return the senders refused in the last ``window``, most refused first."""
        async with self._db.connection() as conn:
            return await audit.recent_blocked(conn, window, limit)

    async def audit_stats(self) -> AuditStats:
        """Return entry totals per action and the recent hourly rollups."""
        async with self._db.connection() as conn:
            return await audit.stats(conn)
