"""A running ``waasp up``, as its data dir records it: who runs, where, on which URLs.

``waasp up`` holds ``<data dir>/up.lock`` while it runs, so a second ``up`` on the same data
dir refuses to start, and keeps ``<data dir>/instance.json`` (mode 0600: it holds the
database URL) up to date. The other commands read that file to find the servers when their
own URLs are unset (``environ_with_instance``); ``waasp status``, ``down`` and ``env`` show
it or act on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from waasp.embedded import cmdline_mentions, pid_alive
from waasp.errors import WaaspError

INSTANCE_FILE = "instance.json"
LOCK_FILE = "up.lock"
# What each recorded URL fills in when the command's environment leaves it unset.
VARIABLES = {
    "WAASP_REDIS_URL": "redis_url",
    "WAASP_RESULT_URL": "result_url",
    "WAASP_DATABASE_URL": "database_url",
    "WAASP_KEY_PREFIX": "key_prefix",
}
STARTING = "starting"
RUNNING = "running"
# A live pid whose command line lacks this is not ours: the pid was reused.
PROCESS_WORDS = ("waasp",)


class AlreadyRunning(WaaspError):
    """Another ``waasp up`` holds this data dir."""


@dataclass(frozen=True, slots=True)
class Instance:
    """What a ``waasp up`` wrote down about itself."""

    pid: int
    url: str
    data_dir: str
    started_at: str
    state: str = STARTING
    redis_url: str | None = None
    result_url: str | None = None
    database_url: str | None = None
    key_prefix: str | None = None
    token_file: str | None = None
    # The embedded servers this ``up`` launched (name -> pid): a later ``up`` that finds this
    # record stale (this one was killed) takes them over, and stops them when it stops.
    servers: dict[str, int] = field(default_factory=dict)

    @property
    def dashboard_url(self) -> str:
        """The monitoring page."""
        return f"{self.url}/dashboard"

    def as_dict(self) -> dict[str, Any]:
        """The JSON document ``instance.json`` holds and ``waasp status --json`` prints."""
        return {**asdict(self), "dashboard_url": self.dashboard_url}


def now_iso() -> str:
    """The current time, ISO 8601 in UTC."""
    return dt.datetime.now(dt.UTC).isoformat()


def instance_path(data_dir: Path) -> Path:
    """Where a running ``up`` describes itself."""
    return data_dir / INSTANCE_FILE


def read(data_dir: Path) -> Instance | None:
    """The record in ``data_dir``, live or stale; None when there is none (or it is garbled)."""
    try:
        data = orjson.loads(instance_path(data_dir).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    if not isinstance(data.get("servers", {}), dict):
        return None
    try:
        return Instance(
            **{name: data[name] for name in Instance.__dataclass_fields__ if name in data}
        )
    except TypeError:  # a field is missing
        return None


def is_alive(instance: Instance) -> bool:
    """Tell whether the process that wrote ``instance`` still runs."""
    return pid_alive(instance.pid) and cmdline_mentions(instance.pid, PROCESS_WORDS)


def running(data_dir: Path) -> Instance | None:
    """The ``waasp up`` running on ``data_dir``, or None."""
    found = read(data_dir)
    return found if found is not None and is_alive(found) else None


def write(data_dir: Path, instance: Instance) -> None:
    """Replace the record atomically; only its owner may read it (it holds the URLs)."""
    path = instance_path(data_dir)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(orjson.dumps(instance.as_dict(), option=orjson.OPT_INDENT_2))
    staging.replace(path)


def remove(data_dir: Path, pid: int) -> None:
    """Delete the record if process ``pid`` wrote it."""
    found = read(data_dir)
    if found is not None and found.pid == pid:
        instance_path(data_dir).unlink(missing_ok=True)


@contextlib.contextmanager
def lock(data_dir: Path) -> Iterator[Instance | None]:
    """Hold ``data_dir`` for one ``waasp up``; yield the record a dead one left (or None).

    Raises AlreadyRunning, saying which process and URL, when another ``up`` holds it. The
    lock is the kernel's, so an ``up`` killed with SIGKILL releases it too.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(_already_running(data_dir)) from None
        try:
            yield read(data_dir)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _already_running(data_dir: Path) -> str:
    found = read(data_dir)
    if found is None or not is_alive(found):
        return f"already running (starting up, data dir {data_dir})"
    return f"already running (pid {found.pid}, {found.url}; data dir {data_dir})"


def environ_with_instance(
    environ: Mapping[str, str], data_dir: Path | None = None
) -> dict[str, str]:
    """``environ``, with the URLs (and key prefix) of the ``waasp up`` running on the data dir
    filled in where ``environ`` leaves them unset or empty."""
    out = dict(environ)
    if data_dir is None:
        data_dir = Path(environ.get("WAASP_DATA_DIR") or ".waasp")
    found = running(data_dir)
    if found is None:
        return out
    for variable, name in VARIABLES.items():
        value = getattr(found, name)
        if value and not out.get(variable):
            out[variable] = value
    return out
