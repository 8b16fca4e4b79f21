"""Reading Redis's replies: bytes as text, and stream entry ids as times and order."""

from __future__ import annotations


def text(value: object) -> str:
    """A reply (bytes, or already a str or a number) as a str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_order(entry_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``: stream entry ids sort by this."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def entry_ms(entry_id: str) -> int:
    """When Redis added the entry, in epoch ms by the server's clock."""
    return entry_order(entry_id)[0]
