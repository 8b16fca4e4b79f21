"""Stream entry ids parsed strictly: ASCII digits, 64-bit parts — no I/O."""

from __future__ import annotations

import pytest

from waasp.runtime import DeadLetterNotFound, parse_entry_id
from waasp.runtime.broker.dead import split_dead_letter_id


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("1700000000000-3", (1700000000000, 3)), ("5", (5, 0)), ("0-0", (0, 0))],
)
def test_valid_ids_parse(text: str, parsed: tuple[int, int]) -> None:
    """MS-SEQ and a bare MS parse to their numbers."""
    assert parse_entry_id(text) == parsed


def test_the_64_bit_bounds_are_inclusive() -> None:
    """Each part may be as large as 2**64 - 1, and no larger."""
    top = str(2**64 - 1)
    assert parse_entry_id(f"{top}-{top}") == (2**64 - 1, 2**64 - 1)
    assert parse_entry_id(f"{2**64}-0") is None
    assert parse_entry_id(f"0-{2**64}") is None


@pytest.mark.parametrize(
    "text",
    [
        "99999999999999999999999-0",
        "\u0665-0",  # ARABIC-INDIC DIGIT FIVE
        "\uff15-0",  # FULLWIDTH DIGIT FIVE
        "1_0-0",
        " 1-0",
        "+1-0",
        "-1",
        "1-",
        "1-2-3",
        "",
        "1-0\n",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    """Non-ASCII digits, out-of-range parts, signs, spaces and stray dashes are not ids."""
    assert parse_entry_id(text) is None


@pytest.mark.parametrize("dead_id", ["default:99999999999999999999999-0", "default:\u0665-0"])
def test_dead_letter_ids_are_refused_before_redis(dead_id: str) -> None:
    """The issue's ids are refused by split_dead_letter_id, an error the CLI prints as one
    line."""
    with pytest.raises(DeadLetterNotFound, match="no valid entry id"):
        split_dead_letter_id(dead_id)
