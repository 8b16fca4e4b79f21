"""Notification text for Slack: escaped as Slack requires, nothing invisible — no I/O."""

from __future__ import annotations

from waasp import slack
from waasp.notify import blocked_message
from waasp.notify_cap import summary_message

ATTACK = "<!channel> re-login at <https://evil.example/login|https://waasp.internal/login>"


def test_angle_brackets_and_ampersands_are_escaped() -> None:
    """A mention or a disguised link becomes plain text: & < > are Slack's escapes."""
    assert slack.escape(ATTACK) == (
        "&lt;!channel&gt; re-login at "
        "&lt;https://evil.example/login|https://waasp.internal/login&gt;"
    )
    assert slack.escape("a & b") == "a &amp; b"


def test_control_and_bidi_characters_are_shown() -> None:
    """CR, LF, a right-to-left override and a zero-width space are shown as code points."""
    assert slack.escape("x\r\nFAKE\u202eevil\u200b") == (
        "x[U+000D][U+000A]FAKE[U+202E]evil[U+200B]"
    )


def test_plain_text_is_unchanged() -> None:
    """Letters of any script, digits, emoji and plain spaces pass as they are."""
    text = "+1 555 0100 Zoë 名前 🐝 مرحبا"
    assert slack.escape(text) == text


def test_blocked_message_text_is_escaped_and_fields_are_kept() -> None:
    """The message's text is escaped; its structured fields keep the exact sender id."""
    message = blocked_message(ATTACK + "\n", "email")
    assert "<" not in message["text"] and ">" not in message["text"]
    assert "[U+000A]" in message["text"]
    assert message["sender_id"] == ATTACK + "\n"


def test_summary_message_counts_the_held_back() -> None:
    """The summary names how many notifications were held back in the window."""
    message = summary_message(37, 60.0)
    assert message["held_back"] == 37 and "37 more message(s) in the last 60 s" in message["text"]
