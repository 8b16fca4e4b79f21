"""Channel names in one canonical spelling, so a per-channel row cannot be sidestepped.

A channel is trimmed, NFKC-normalised and case-folded: ``" EMAIL "``, ``"Email"`` and the
same word in full-width letters are all ``"email"``. What folding cannot make harmless is
refused: invisible characters (zero-width, bidi and other format characters, controls,
variation selectors, fillers), letters or digits of two scripts in one name (``"email"``
spelled with a Cyrillic ``e``, U+0435), a non-Latin name every letter of which reads as Latin
(``"xoxo"`` in Cyrillic letters), and ``*``, which people read as "every channel" (that is a
channel left out).
"""

from __future__ import annotations

import unicodedata
from collections import Counter

# Read as "all channels" by people and by `waasp list`, so never the name of one.
EVERY_CHANNEL_MARK = "*"

# Code points that render as nothing (or as plain space) outside the format/control categories.
_INVISIBLE_EXTRA = frozenset(
    [
        *(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0),
        *range(0x180B, 0x1810),  # Mongolian variation selectors
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),  # variation selectors supplement
    ]
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Scripts that Japanese, Chinese and Korean names legitimately mix, and digit names that
# differ from their letters' (the first word of a character's name is its script).
_SCRIPT_ALIASES = {
    **dict.fromkeys(["CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"], "CJK"),
    **dict.fromkeys(["ARABIC-INDIC", "EXTENDED"], "ARABIC"),
}
# Non-Latin letters that look like Latin ones (after case folding): Cyrillic, Greek, Armenian.
LATIN_LOOKALIKES = frozenset(
    # Cyrillic: a e o p c y x s i j d q w h l y v
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u0501\u051b\u051d\u04bb\u04cf"
    "\u04af\u0475"
    # Greek: a o p v i k u x c j y
    "\u03b1\u03bf\u03c1\u03bd\u03b9\u03ba\u03c5\u03c7\u03f2\u03f3\u03b3"
    # Armenian: o u h g q n
    "\u0585\u057d\u0570\u0581\u0566\u0578"
)


def canonical(value: str) -> str:
    """Trim, NFKC-normalise and case-fold ``value`` (folding can un-normalise, so twice)."""
    once = unicodedata.normalize("NFKC", value)
    return unicodedata.normalize("NFKC", once.casefold()).strip()


def describe(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: how an error names a character."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED CHARACTER')}"


def is_invisible(char: str) -> bool:
    """Whether ``char`` shows as nothing, or as a space other than the plain one."""
    category = unicodedata.category(char)
    if category in _INVISIBLE_CATEGORIES or ord(char) in _INVISIBLE_EXTRA:
        return True
    return category == "Zs" and char != " "


def _script(char: str) -> str | None:
    """The script of a letter or digit, from its Unicode name (None: shared, e.g. ASCII)."""
    if char.isascii() and not char.isalpha():
        return None
    if not unicodedata.category(char).startswith(("L", "N")):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(word, word) or None


def unsafe_characters(channel: str) -> tuple[str, list[str]] | None:
    """Why a canonical channel is unsafe, and the characters to blame; None when it is safe."""
    hidden = [c for c in channel if is_invisible(c)]
    if hidden:
        return "must not contain invisible characters", _unique(hidden)
    scripts = {c: s for c in channel if (s := _script(c)) is not None}
    counts = Counter(scripts.values())
    if len(counts) > 1:
        main = counts.most_common(1)[0][0]
        odd = [c for c in channel if scripts.get(c, main) != main]
        return "must not mix letters of different scripts", _unique(odd)
    letters = [c for c in channel if c.isalpha()]
    if letters and counts and "LATIN" not in counts and set(letters) <= LATIN_LOOKALIKES:
        return "must not be spelled with look-alikes of Latin letters", _unique(letters)
    return None


def _unique(chars: list[str]) -> list[str]:
    return [describe(c) for c in dict.fromkeys(chars)]
