"""Command-line parsing that needs no Redis."""

from __future__ import annotations

import argparse

import pytest

from waasp.runtime.cli.main import build_parser, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("45s", 45.0),
        ("30m", 1800.0),
        ("1h", 3600.0),
        ("12h", 43200.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("1.5h", 5400.0),
        (" 10 m ", 600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    """Durations take s, m, h, d, w suffixes (none: seconds)."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-1h", "1y", "1h30m", "soon", "1e3"])
def test_bad_durations(text: str) -> None:
    """Anything else is an argparse error, reported as a usage error."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_worker_arguments() -> None:
    """``worker -A M:A -Q high,default -c 8 --burst`` parses into its parts."""
    args = build_parser().parse_args(
        ["worker", "-A", "m:a", "-Q", "high, default", "-c", "8", "--burst"]
    )
    assert (args.app, args.queues, args.concurrency, args.burst) == (
        "m:a",
        ["high", "default"],
        8,
        True,
    )


def test_default_app() -> None:
    """``-A`` defaults to ``waasp.tasks:runtime``."""
    assert build_parser().parse_args(["inspect", "queues"]).app == "waasp.tasks:runtime"


def test_dlq_purge_older_than() -> None:
    """``dlq purge --older-than 1h`` parses the duration to seconds."""
    args = build_parser().parse_args(["dlq", "purge", "--older-than", "1h"])
    assert args.older_than == 3600.0


def test_unknown_loglevel_is_a_usage_error() -> None:
    """An unknown ``--loglevel`` exits 2 as a usage error."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["inspect", "queues", "--loglevel", "loud"])
    assert exited.value.code == 2
