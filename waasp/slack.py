"""Text for Slack-compatible webhooks: escaped as Slack requires, nothing left invisible.

Slack reads ``<...>`` as a link or a mention: a sender id ``<!channel>`` would ping the whole
channel, and ``<https://evil.example|https://waasp.internal>`` would show one address and
open another. So ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;`` and ``&gt;`` (Slack's own
escapes). A line break, a bidi override or a zero-width character would let a sender id fake
a second line or reverse the text around it, so each control or invisible character is
shown as ``[U+XXXX]`` instead.
"""

from __future__ import annotations

from waasp.channels import is_invisible

_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """``text`` safe to put in a Slack message's ``text``."""
    return "".join(_shown(char) for char in text)


def _shown(char: str) -> str:
    if char in _SLACK_ESCAPES:
        return _SLACK_ESCAPES[char]
    if is_invisible(char):
        return f"[U+{ord(char):04X}]"
    return char
