"""Input validation: limits, NUL bytes, types, defaults — no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waasp import channels, validation
from waasp.errors import ValidationError
from waasp.models import AuditAction, TrustLevel


def field_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.field


def test_check_request_minimal_and_full() -> None:
    """A check needs only sender_id; channel and preview are optional."""
    assert validation.check_request({"sender_id": "a"}) == validation.CheckRequest("a")
    full = validation.check_request({"sender_id": "a", "channel": "sms", "message_preview": "hi"})
    assert full == validation.CheckRequest("a", "sms", "hi")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "sender_id"),
        ({"sender_id": ""}, "sender_id"),
        ({"sender_id": " \t"}, "sender_id"),
        ({"sender_id": "x" * 256}, "sender_id"),
        ({"sender_id": "x" * 10_000}, "sender_id"),
        ({"sender_id": 5}, "sender_id"),
        ({"sender_id": "a\x00"}, "sender_id"),
        ({"sender_id": "a\ud800"}, "sender_id"),
        ({"sender_id": "a", "channel": "c" * 51}, "channel"),
        ({"sender_id": "a", "channel": "\x00"}, "channel"),
        ({"sender_id": "a", "message_preview": "ok\x00"}, "message_preview"),
        ({"sender_id": "a", "message_preview": ["x"]}, "message_preview"),
        ({"sender_id": "a", "extra": 1}, "extra"),
        (["sender_id"], "body"),
        (None, "body"),
    ],
)
def test_check_request_refusals_name_the_field(body: object, field: str) -> None:
    """Each refused check body names the offending field."""
    assert field_of(lambda: validation.check_request(body)) == field


def test_limits_are_inclusive_and_preview_truncated() -> None:
    """255/50 characters pass; a long preview is cut to 500 characters, not refused."""
    ok = validation.check_request(
        {"sender_id": "s" * 255, "channel": "c" * 50, "message_preview": "m" * 5000}
    )
    assert len(ok.sender_id) == 255 and ok.channel == "c" * 50
    assert ok.message_preview == "m" * 500


def test_preview_is_capped_in_bytes_between_characters() -> None:
    """A preview keeps at most 500 bytes of UTF-8, never half a character: 250 two-byte
    characters, 125 four-byte ones."""
    for char, kept in (("é", 250), ("🐝", 125), ("a", 500)):
        preview = validation.message_preview(char * 2000)
        assert preview == char * kept
        assert len(preview.encode()) <= validation.MESSAGE_PREVIEW_MAX_BYTES
    assert validation.message_preview("a" + "🐝" * 200) == "a" + "🐝" * 124


def test_sender_ids_are_trimmed() -> None:
    """Whitespace around a sender id is dropped on every path (checks and contacts)."""
    assert validation.sender_id("  +15550100\t") == "+15550100"
    assert validation.check_request({"sender_id": " bob "}).sender_id == "bob"
    assert validation.new_contact({"sender_id": "\nbob"}).sender_id == "bob"


def test_empty_channel_is_global() -> None:
    """An empty channel means every channel (None)."""
    assert validation.channel("") is None
    assert validation.channel(None) is None


def test_new_contact_defaults_and_refusals() -> None:
    """trust_level defaults to trusted; unknown levels, long names, long notes are refused."""
    assert validation.new_contact({"sender_id": "a"}).trust_level is TrustLevel.TRUSTED
    assert field_of(lambda: validation.new_contact({"sender_id": "a", "trust_level": "x"})) == (
        "trust_level"
    )
    assert field_of(lambda: validation.new_contact({"sender_id": "a", "name": "n" * 256})) == "name"
    notes = "n" * (validation.NOTES_MAX + 1)
    assert field_of(lambda: validation.new_contact({"sender_id": "a", "notes": notes})) == "notes"


def test_contact_changes_distinguish_unset_and_null() -> None:
    """A PATCH field left out stays UNSET; null clears it; an empty PATCH is refused."""
    changes = validation.contact_changes({"name": None, "trust_level": "blocked"})
    assert changes.name is None and changes.notes is validation.UNSET
    assert changes.trust_level is TrustLevel.BLOCKED
    assert field_of(lambda: validation.contact_changes({})) == "body"
    assert field_of(lambda: validation.contact_changes({"sender_id": "b"})) == "sender_id"


def test_audit_query_defaults_and_bounds() -> None:
    """limit defaults to 100 and must lie in 1..1000; offset must not be negative."""
    assert validation.audit_query({}) == validation.AuditQuery()
    query = validation.audit_query({"action": "trust_changed", "limit": "1000", "offset": "5"})
    assert (query.action, query.limit, query.offset) == (AuditAction.TRUST_CHANGED, 1000, 5)
    for params, field in [
        ({"limit": "1001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"limit": "1_0"}, "limit"),
        ({"limit": " +5 "}, "limit"),
        ({"limit": "+5"}, "limit"),
        ({"limit": "5 "}, "limit"),
        ({"limit": "\u0665"}, "limit"),  # ARABIC-INDIC DIGIT FIVE
        ({"limit": "\uff15"}, "limit"),  # FULLWIDTH DIGIT FIVE
        ({"offset": "1" * 400}, "offset"),
        ({"action": "nope"}, "action"),
    ]:
        assert field_of(lambda params=params: validation.audit_query(params)) == field


@given(st.text(max_size=400))
def test_any_text_is_accepted_or_refused_cleanly(value: str) -> None:
    """Any string either validates unchanged or raises ValidationError, nothing else."""
    try:
        result = validation.check_request({"sender_id": value, "channel": value[:60]})
    except ValidationError as exc:
        assert exc.field in ("sender_id", "channel")
    else:
        assert result.sender_id == value.strip()
        assert "\x00" not in value and 0 < len(value) <= 255
        assert result.channel is None or result.channel == channels.canonical(value[:60])


def test_channels_are_validated_once_and_refusals_every_time() -> None:
    """A channel seen before is answered from the cache, with the same canonical spelling;
    a refused one is refused every time (refusals are never cached)."""
    first = validation.channel(" WhatsApp-Cache-Test ")
    hits = validation._cached_channel.cache_info().hits
    assert validation.channel(" WhatsApp-Cache-Test ") == first == "whatsapp-cache-test"
    assert validation._cached_channel.cache_info().hits == hits + 1
    for _ in range(2):
        with pytest.raises(ValidationError):
            validation.channel("p\u0430y")  # a Cyrillic a among Latin letters
    with pytest.raises(ValidationError):
        validation.channel(["not", "text"])  # not a string: never reaches the cache
