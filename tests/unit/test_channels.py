"""Channel names: one canonical spelling; invisible, mixed-script and look-alike names and
`*` refused with the characters named — no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waasp import channels, validation
from waasp.errors import ValidationError


@pytest.mark.parametrize(
    "spelling",
    [
        "email",
        "Email",
        "EMAIL",
        " email ",
        "email\t",
        "\uff25\uff2d\uff21\uff29\uff2c",  # full-width EMAIL
        "\u00a0email",
        "\U0001d41e\U0001d426\U0001d41a\U0001d422\U0001d425",  # mathematical bold email
    ],
)
def test_spellings_of_one_channel_fold_to_one_name(spelling: str) -> None:
    """Case, surrounding space, full-width and mathematical letters all give "email"."""
    assert validation.channel(spelling) == "email"


def test_folding_is_full_case_folding_and_nfkc() -> None:
    """ß folds to ss, the ﬁ ligature to fi, Greek final sigma to sigma."""
    assert validation.channel("Straße") == "strasse"
    assert validation.channel("ﬁle") == "file"
    assert validation.channel("ΛΌΓΟΣ") == validation.channel("λόγος") == "λόγοσ"


@pytest.mark.parametrize(
    ("spelling", "blamed"),
    [
        ("email\u200b", "U+200B ZERO WIDTH SPACE"),
        ("e\u200dmail", "U+200D ZERO WIDTH JOINER"),
        ("\u202eliame", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("email\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
        ("e\u00admail", "U+00AD SOFT HYPHEN"),
        ("em\nail", "U+000A"),
        ("e\u3164mail", "U+1160 HANGUL JUNGSEONG FILLER"),  # NFKC's spelling of U+3164
        ("e\u2800mail", "U+2800 BRAILLE PATTERN BLANK"),
    ],
)
def test_invisible_characters_are_refused_by_name(spelling: str, blamed: str) -> None:
    """A channel with an invisible character is a 400 naming it."""
    with pytest.raises(ValidationError) as caught:
        validation.channel(spelling)
    assert caught.value.field == "channel"
    assert "invisible" in caught.value.message
    assert caught.value.details["characters"][0].startswith(blamed)


@pytest.mark.parametrize(
    ("spelling", "blamed"),
    [
        ("\u0435mail", ["U+0435 CYRILLIC SMALL LETTER IE"]),
        ("em\u0430il", ["U+0430 CYRILLIC SMALL LETTER A"]),
        ("\u03bfutlook", ["U+03BF GREEK SMALL LETTER OMICRON"]),
        ("sms\u0662", ["U+0662 ARABIC-INDIC DIGIT TWO"]),
    ],
)
def test_mixed_scripts_are_refused_naming_the_odd_characters(
    spelling: str, blamed: list[str]
) -> None:
    """Letters (or digits) of two scripts in one name: the minority's characters are named."""
    with pytest.raises(ValidationError) as caught:
        validation.channel(spelling)
    assert caught.value.details == {"field": "channel", "characters": blamed}


def test_whole_name_of_latin_look_alikes_is_refused() -> None:
    """A Cyrillic name every letter of which reads as Latin ("xoxo", "coco") is refused."""
    for spelling in ("\u0445\u043e\u0445\u043e", "\u0441\u043e\u0441\u043e"):
        with pytest.raises(ValidationError, match="look-alikes"):
            validation.channel(spelling)


@pytest.mark.parametrize(
    "name", ["телеграм", "whatsapp", "ライン公式", "sms-2", "e.mail", "team chat", "🐝"]
)
def test_names_in_one_script_pass(name: str) -> None:
    """A name in one script (Cyrillic, Latin, Japanese), digits and symbols included, passes."""
    assert validation.channel(name) == channels.canonical(name)


def test_star_is_not_a_channel() -> None:
    """`*` (read as "every channel") is refused, with a hint to leave channel out."""
    for spelling in ("*", " * ", "\uff0a"):  # the last: full-width asterisk
        with pytest.raises(ValidationError, match="leave channel out"):
            validation.channel(spelling)


def test_length_counts_the_folded_name() -> None:
    """The 50-character limit holds for the folded name (NFKC may lengthen a name)."""
    assert validation.channel(" " * 60 + "c" * 50) == "c" * 50
    with pytest.raises(ValidationError, match="at most 50"):
        validation.channel("\ufdfa" * 3)  # one character that NFKC spells with 18


@given(st.text(max_size=60))
def test_canonical_is_idempotent_and_validation_total(value: str) -> None:
    """Folding a folded name changes nothing; any text validates or raises ValidationError."""
    folded = channels.canonical(value)
    assert channels.canonical(folded) == folded
    try:
        result = validation.channel(value)
    except ValidationError as exc:
        assert exc.field == "channel"
    else:
        assert result == (folded or None)
