"""The console scripts pyproject.toml installs name callables that exist."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_console_scripts_resolve() -> None:
    """`waasp` and `waasp-runtime` are installed, each pointing at a callable main."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["waasp"] == "waasp.cli:main"
    assert scripts["waasp-runtime"] == "waasp.runtime.cli.main:main"
    for target in scripts.values():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), target
