"""Redis stream entry ids (``MS-SEQ``), parsed strictly before they reach Redis.

``str.isdigit`` takes Arabic-Indic and other digits, and ``int`` takes any length: either
would pass an id Redis then refuses with an error nobody expected. Here both parts are ASCII
digits within 64 bits, or the id is not one.
"""

from __future__ import annotations

import re

_ENTRY_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_MAX = 2**64 - 1


def parse_entry_id(text: str) -> tuple[int, int] | None:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)`` (``"5"`` -> ``(5, 0)``); None for
    anything else."""
    match = _ENTRY_ID.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1]), int(match[2] or 0)
    return (ms, seq) if ms <= _MAX and seq <= _MAX else None
