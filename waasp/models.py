"""The values of the domain: trust levels, contacts, check decisions, audit entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class TrustLevel(StrEnum):
    """How far a contact is trusted."""

    SOVEREIGN = "sovereign"
    TRUSTED = "trusted"
    LIMITED = "limited"
    BLOCKED = "blocked"


class AuditAction(StrEnum):
    """What an audit entry records."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    LIMITED = "limited"
    CONTACT_ADDED = "contact_added"
    CONTACT_UPDATED = "contact_updated"
    TRUST_CHANGED = "trust_changed"
    CONTACT_REMOVED = "contact_removed"


DECISION_ACTIONS = frozenset({AuditAction.ALLOWED, AuditAction.BLOCKED, AuditAction.LIMITED})


@dataclass(frozen=True, slots=True)
class Decision:
    """What a check answers for one trust level (None: the sender is unknown)."""

    allowed: bool
    action: AuditAction
    reason: str


# The whole decision table. The check SQL is generated from it, so it is the only copy.
DECISIONS: Mapping[TrustLevel | None, Decision] = {
    TrustLevel.SOVEREIGN: Decision(True, AuditAction.ALLOWED, "sovereign contact"),
    TrustLevel.TRUSTED: Decision(True, AuditAction.ALLOWED, "trusted contact"),
    TrustLevel.LIMITED: Decision(True, AuditAction.LIMITED, "limited trust"),
    TrustLevel.BLOCKED: Decision(False, AuditAction.BLOCKED, "sender is blocked"),
    None: Decision(False, AuditAction.BLOCKED, "unknown sender"),
}


def decide(trust: TrustLevel | None) -> Decision:
    """Return the decision for a sender whose matching contact has ``trust`` (None: unknown)."""
    return DECISIONS[trust]


@dataclass(frozen=True, slots=True)
class Contact:
    """A sender on one channel (channel None: every channel) and how far it is trusted."""

    id: int
    sender_id: str
    channel: str | None
    trust_level: TrustLevel
    name: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer to "may this sender pass?"."""

    allowed: bool
    trust: TrustLevel | None
    name: str | None
    reason: str
    action: AuditAction


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail."""

    id: int
    action: str
    sender_id: str
    channel: str | None
    contact_id: int | None
    message_preview: str | None
    metadata: Mapping[str, Any]
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HourlyStat:
    """How many entries of one action (and channel; None: all) one hour saw."""

    hour: datetime
    action: str
    channel: str | None
    count: int


@dataclass(frozen=True, slots=True)
class AuditStats:
    """Totals of the audit trail and its hourly rollups."""

    total_entries: int
    by_action: Mapping[str, int]
    hourly: tuple[HourlyStat, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class BlockedSender:
    """A sender refused on one channel (None: checks without a channel) in a recent window,
    and the contact that decides its checks there now (None: it is unknown)."""

    sender_id: str
    channel: str | None
    checks: int
    first_seen: datetime
    last_seen: datetime
    contact: Contact | None


@dataclass(frozen=True, slots=True)
class RecentBlocked:
    """The senders refused since ``since``, most refused first, and the window's totals."""

    window: timedelta
    since: datetime
    checks: int  # blocked checks in the window
    senders: int  # distinct (sender, channel) pairs among them
    blocked: tuple[BlockedSender, ...]
