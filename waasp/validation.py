"""Turn untrusted input (JSON bodies, query strings, CLI arguments) into checked values.

Every failure is a ValidationError naming the field, which the API answers with 400.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any, Final

from waasp import channels
from waasp.errors import ValidationError
from waasp.models import AuditAction, TrustLevel

SENDER_ID_MAX = 255
CHANNEL_MAX = 50
NAME_MAX = 255
NOTES_MAX = 4000
MESSAGE_PREVIEW_MAX = 500
# Anyone may check, and every check keeps its preview for the retention period: the bound is
# in bytes (UTF-8), so four-byte characters cannot quadruple what a check stores.
MESSAGE_PREVIEW_MAX_BYTES = 500
# Previews are truncated, not refused, but a bound keeps the NUL scan and the log lines sane.
MESSAGE_PREVIEW_INPUT_MAX = 100_000
AUDIT_LIMIT_MAX = 1000
AUDIT_LIMIT_DEFAULT = 100
CONTACTS_LIMIT_MAX = 1000
CONTACTS_LIMIT_DEFAULT = 100
OFFSET_MAX = 2**62  # far beyond any table, still inside PostgreSQL's bigint
SEARCH_MAX = 255
# The windows of the recent-decisions view: the last hour, the last day.
RECENT_WINDOWS: Mapping[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(days=1)}
RECENT_LIMIT_DEFAULT = 50
RECENT_LIMIT_MAX = 500


class Unset(Enum):
    """Marks a field a PATCH body did not mention (None would mean "clear it")."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A validated check: who is asking, on which channel, with which message."""

    sender_id: str
    channel: str | None = None
    message_preview: str | None = None


@dataclass(frozen=True, slots=True)
class NewContact:
    """A validated contact to add."""

    sender_id: str
    trust_level: TrustLevel = TrustLevel.TRUSTED
    channel: str | None = None
    name: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """The fields a PATCH sets; UNSET ones stay as they are."""

    trust_level: TrustLevel | Unset = UNSET
    name: str | Unset | None = UNSET
    notes: str | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters and page of an audit listing."""

    sender_id: str | None = None
    action: AuditAction | None = None
    channel: str | None = None
    limit: int = AUDIT_LIMIT_DEFAULT
    offset: int = 0
    since: dt.datetime | None = None  # only entries at or after this time


def text(field: str, value: object, *, max_length: int, allow_empty: bool = True) -> str:
    """Check that ``value`` is a string PostgreSQL can store, at most ``max_length`` long."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL bytes")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "must be valid Unicode text") from None
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty")
    return value


def sender_id(value: object, field: str = "sender_id") -> str:
    """Validate a sender id: 1 to 255 characters, not blank; surrounding whitespace trimmed."""
    if value is None:
        raise ValidationError(field, "is required")
    return text(field, value, max_length=SENDER_ID_MAX, allow_empty=False).strip()


def channel(value: object, field: str = "channel") -> str | None:
    """Validate a channel and return its canonical spelling (see ``waasp.channels``): at most
    50 characters once folded; absent or blank means every channel; ``*`` and names with
    invisible or look-alike characters are refused, naming the characters."""
    if value is None:
        return None
    if isinstance(value, str):
        return _cached_channel(value, field)
    return _channel(value, field)


def _channel(value: object, field: str) -> str | None:
    folded = channels.canonical(text(field, value, max_length=CHANNEL_MAX * 4))
    if len(folded) > CHANNEL_MAX:
        raise ValidationError(field, f"must be at most {CHANNEL_MAX} characters")
    if folded == channels.EVERY_CHANNEL_MARK:
        raise ValidationError(field, "'*' is not a channel name (leave channel out: every channel)")
    unsafe = channels.unsafe_characters(folded)
    if unsafe is not None:
        reason, blamed = unsafe
        raise ValidationError(field, f"{reason}: {', '.join(blamed)}", characters=blamed)
    return folded or None


# A deployment checks a handful of channels over and over, and their Unicode checks cost
# about 14 µs a check (0.1 µs cached); refusals raise, so they are never cached.
_cached_channel = functools.lru_cache(maxsize=1024)(_channel)


def trust_level(value: object, field: str = "trust_level") -> TrustLevel:
    """Validate a trust level name."""
    if isinstance(value, str):
        try:
            return TrustLevel(value)
        except ValueError:
            pass
    choices = ", ".join(level.value for level in TrustLevel)
    raise ValidationError(field, f"must be one of {choices}")


def optional_text(field: str, value: object, max_length: int) -> str | None:
    """Validate a nullable free-text field such as a name or notes."""
    return None if value is None else text(field, value, max_length=max_length)


def message_preview(value: object) -> str | None:
    """Validate a message preview and truncate it to what the audit trail keeps: at most
    500 characters and 500 bytes of UTF-8, cut between characters."""
    if value is None:
        return None
    checked = text("message_preview", value, max_length=MESSAGE_PREVIEW_INPUT_MAX)
    encoded = checked[:MESSAGE_PREVIEW_MAX].encode("utf-8")[:MESSAGE_PREVIEW_MAX_BYTES]
    return encoded.decode("utf-8", "ignore")


def _object(data: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    for key in data:
        if key not in allowed:
            raise ValidationError(str(key), "is not a known field")
    return data


_CHECK_FIELDS = frozenset({"sender_id", "channel", "message_preview"})
_CREATE_FIELDS = frozenset({"sender_id", "trust_level", "channel", "name", "notes"})
_UPDATE_FIELDS = frozenset({"trust_level", "name", "notes"})


def check_request(data: object) -> CheckRequest:
    """Validate the body of POST /api/v1/check."""
    body = _object(data, _CHECK_FIELDS)
    return CheckRequest(
        sender_id=sender_id(body.get("sender_id")),
        channel=channel(body.get("channel")),
        message_preview=message_preview(body.get("message_preview")),
    )


def new_contact(data: object) -> NewContact:
    """Validate the body of POST /api/v1/contacts (trust_level defaults to trusted)."""
    body = _object(data, _CREATE_FIELDS)
    trust = body.get("trust_level")
    return NewContact(
        sender_id=sender_id(body.get("sender_id")),
        trust_level=TrustLevel.TRUSTED if trust is None else trust_level(trust),
        channel=channel(body.get("channel")),
        name=optional_text("name", body.get("name"), NAME_MAX),
        notes=optional_text("notes", body.get("notes"), NOTES_MAX),
    )


def contact_changes(data: object) -> ContactChanges:
    """Validate the body of PATCH /api/v1/contacts/{sender_id}."""
    body = _object(data, _UPDATE_FIELDS)
    if not body:
        raise ValidationError("body", "must set at least one of trust_level, name, notes")
    return ContactChanges(
        trust_level=trust_level(body["trust_level"]) if "trust_level" in body else UNSET,
        name=optional_text("name", body["name"], NAME_MAX) if "name" in body else UNSET,
        notes=optional_text("notes", body["notes"], NOTES_MAX) if "notes" in body else UNSET,
    )


# ASCII digits only: int() would also take "1_0", " +5 " and an Arabic-Indic five (U+0665).
_INTEGER = re.compile(r"-?[0-9]{1,20}")


def bounded_int(field: str, value: str | None, *, default: int, low: int, high: int) -> int:
    """Parse an integer query parameter (ASCII digits, an optional minus) in [low, high]."""
    if value is None or value == "":
        return default
    if not _INTEGER.fullmatch(value):
        raise ValidationError(field, "must be an integer (ASCII digits)")
    number = int(value)
    if not low <= number <= high:
        raise ValidationError(field, f"must be from {low} to {high}")
    return number


def timestamp(field: str, value: str | None) -> dt.datetime | None:
    """Parse an ISO 8601 time (UTC when it names no offset); None or empty stays None."""
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, "must be an ISO 8601 time (2026-05-04T03:00:00Z)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def page(params: Mapping[str, str], *, default: int, high: int) -> tuple[int, int]:
    """Validate ``limit`` (1 to ``high``) and ``offset`` (0 or more) of a listing."""
    return (
        bounded_int("limit", params.get("limit"), default=default, low=1, high=high),
        bounded_int("offset", params.get("offset"), default=0, low=0, high=OFFSET_MAX),
    )


def audit_query(params: Mapping[str, str]) -> AuditQuery:
    """Validate the query string of GET /api/v1/audit."""
    raw_sender = params.get("sender_id")
    raw_action = params.get("action")
    action: AuditAction | None = None
    if raw_action:
        try:
            action = AuditAction(raw_action)
        except ValueError:
            choices = ", ".join(a.value for a in AuditAction)
            raise ValidationError("action", f"must be one of {choices}") from None
    return AuditQuery(
        sender_id=sender_id(raw_sender) if raw_sender else None,
        action=action,
        channel=channel(params.get("channel")),
        limit=bounded_int(
            "limit", params.get("limit"), default=AUDIT_LIMIT_DEFAULT, low=1, high=AUDIT_LIMIT_MAX
        ),
        offset=bounded_int("offset", params.get("offset"), default=0, low=0, high=OFFSET_MAX),
        since=timestamp("since", params.get("since")),
    )


def recent_window(value: str | None) -> timedelta:
    """Validate the ``window`` of the recent-decisions listing (default: the last hour)."""
    if value is None or value == "":
        return RECENT_WINDOWS["1h"]
    if value not in RECENT_WINDOWS:
        raise ValidationError("window", f"must be one of {', '.join(RECENT_WINDOWS)}")
    return RECENT_WINDOWS[value]


def search(value: str | None, field: str = "search") -> str | None:
    """Validate a free-text search term; absent or blank means no search."""
    if value is None:
        return None
    checked = text(field, value, max_length=SEARCH_MAX).strip()
    return checked or None
