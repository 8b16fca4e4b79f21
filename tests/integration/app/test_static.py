"""ruff and mypy --strict as tests, so no run of the suite can skip them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# The API side's code; the runtime and embedded packages have their own owners and checks.
PATHS = [
    "waasp/__init__.py",
    "waasp/__main__.py",
    "waasp/api",
    "waasp/cli.py",
    "waasp/db.py",
    "waasp/errors.py",
    "waasp/logging.py",
    "waasp/migrate.py",
    "waasp/models.py",
    "waasp/repositories",
    "waasp/service.py",
    "waasp/settings.py",
    "waasp/token.py",
    "waasp/validation.py",
    "tests/unit",
    "tests/integration/app",
    "benchmarks/check.py",
]
BIN = Path(sys.executable).parent


async def run(*command: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *PATHS],
        ["ruff", "format", "--check", *PATHS],
        ["mypy", *PATHS],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
async def test_static_checks_pass(command: list[str]) -> None:
    """ruff (lint and format) and mypy --strict report nothing on the API side's code."""
    code, output = await run(str(BIN / command[0]), *command[1:])
    assert code == 0, output
