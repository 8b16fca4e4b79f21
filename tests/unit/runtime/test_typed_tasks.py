"""Typed tasks: mypy accepts correct calls of a task and rejects wrong ones.

mypy checks ``typed_usage/usage.py`` (left out of the project's own mypy run, since it holds
calls that must fail), whose lines say what mypy must report: ``# E: code`` an error of that
code, ``# R: type`` a ``reveal_type`` of that type (on the line, or alone above it). Any
other error fails the test.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[3]
USAGE = Path(__file__).resolve().parent / "typed_usage" / "usage.py"
_MARK = re.compile(r"\s#\s*(E|R):\s*(.+?)\s*$")  # a comment after code, not the docstring
_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$")
_CODE = re.compile(r"\s+\[(?P<code>[a-z-]+)\]$")
_REVEALED = re.compile(r'^Revealed type is "(?P<type>.*)"$')


def _plain(type_text: str) -> str:
    # Older mypy versions qualify builtins; the expectations do not.
    return type_text.replace("builtins.", "")


def _expected() -> tuple[dict[int, set[str]], dict[int, str]]:
    errors: dict[int, set[str]] = {}
    reveals: dict[int, str] = {}
    for at, line in enumerate(USAGE.read_text().splitlines(), 1):
        if (mark := _MARK.search(line)) is None:
            continue
        # A mark alone on its line is the next line's.
        number = at + 1 if line.lstrip().startswith("#") else at
        if mark[1] == "E":
            errors[number] = {code.strip() for code in mark[2].split(",")}
        else:
            reveals[number] = _plain(mark[2])
    return errors, reveals


@pytest.fixture(scope="module")
def mypy_output() -> tuple[dict[int, set[str]], dict[int, str]]:
    """mypy's errors (codes per line) and revealed types on the usage file."""
    stdout, stderr, _ = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--show-error-codes",
            "--no-error-summary",
            "--hide-error-context",
            str(USAGE),
        ]
    )
    assert not stderr, stderr
    errors: dict[int, set[str]] = defaultdict(set)
    reveals: dict[int, str] = {}
    for raw in stdout.splitlines():
        found = _LINE.match(raw)
        assert found is not None, f"unexpected mypy output: {raw}"
        assert Path(found["file"]).name == USAGE.name, f"error outside the usage file: {raw}"
        number = int(found["line"])
        if found["kind"] == "error":
            code = _CODE.search(found["text"])
            errors[number].add(code["code"] if code else found["text"])
        elif revealed := _REVEALED.match(found["text"]):
            reveals[number] = _plain(revealed["type"])
    return dict(errors), reveals


def test_wrong_calls_fail(mypy_output: tuple[dict[int, set[str]], dict[int, str]]) -> None:
    """mypy reports exactly the errors marked ``# E:`` (correct calls report none)."""
    expected, _ = _expected()
    errors, _ = mypy_output
    assert expected, "the usage file marks no expected errors"
    assert errors == expected


def test_revealed_types(mypy_output: tuple[dict[int, set[str]], dict[int, str]]) -> None:
    """Tasks, results and signatures carry the function's types (``# R:`` marks)."""
    _, expected = _expected()
    _, reveals = mypy_output
    assert expected, "the usage file reveals no types"
    assert reveals == expected
