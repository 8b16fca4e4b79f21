"""How domain values look in the API's JSON."""

from __future__ import annotations

from typing import Any

from waasp.models import AuditEntry, AuditStats, CheckResult, Contact, RecentBlocked

# What anyone but the admin learns of a refusal: not whether the sender is unknown or
# blocked (a block says the admin knows that number).
PUBLIC_REFUSAL = "sender not allowed"


def check_result(result: CheckResult, request_id: str, *, full: bool = False) -> dict[str, Any]:
    """What a gate needs: ``{allowed, trust, reason, request_id}``, trust and reason only for
    an allowed sender. ``full`` (the admin token) adds the contact's name and tells unknown
    from blocked."""
    if full:
        return {
            "allowed": result.allowed,
            "trust": result.trust,
            "name": result.name,
            "reason": result.reason,
            "request_id": request_id,
        }
    return {
        "allowed": result.allowed,
        "trust": result.trust if result.allowed else None,
        "reason": result.reason if result.allowed else PUBLIC_REFUSAL,
        "request_id": request_id,
    }


def contact(value: Contact) -> dict[str, Any]:
    """A contact with every field; channel null means every channel."""
    return {
        "id": value.id,
        "sender_id": value.sender_id,
        "channel": value.channel,
        "trust_level": value.trust_level,
        "name": value.name,
        "notes": value.notes,
        "created_at": value.created_at,
        "updated_at": value.updated_at,
    }


def audit_entry(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry with every field."""
    return {
        "id": entry.id,
        "action": entry.action,
        "sender_id": entry.sender_id,
        "channel": entry.channel,
        "contact_id": entry.contact_id,
        "message_preview": entry.message_preview,
        "metadata": entry.metadata,
        "reason": entry.reason,
        "created_at": entry.created_at,
    }


def audit_stats(stats: AuditStats) -> dict[str, Any]:
    """Totals per action and the hourly rollups of the last day."""
    return {
        "total_entries": stats.total_entries,
        "by_action": stats.by_action,
        "hourly": [
            {"hour": h.hour, "action": h.action, "channel": h.channel, "count": h.count}
            for h in stats.hourly
        ],
    }


def recent_blocked(recent: RecentBlocked, window: str) -> dict[str, Any]:
    """The senders refused in a window, each with the contact that decides it now."""
    return {
        "window": window,
        "since": recent.since,
        "checks": recent.checks,
        "senders": recent.senders,
        "blocked": [
            {
                "sender_id": b.sender_id,
                "channel": b.channel,
                "checks": b.checks,
                "first_seen": b.first_seen,
                "last_seen": b.last_seen,
                "contact": None if b.contact is None else contact(b.contact),
            }
            for b in recent.blocked
        ],
    }
