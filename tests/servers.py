"""Find the Redis and PostgreSQL servers the tests talk to, or start them.

Order: an explicit ``WAASP_TEST_REDIS_URL`` / ``WAASP_TEST_DATABASE_URL``, then the
servers on the default local ports (not probed when ``WAASP_TEST_NO_SYSTEM_SERVERS=1``),
then (on a machine with neither) the embedded servers that ``waasp`` itself can start:
once per test session, in a temporary directory, stopped at session end or interpreter exit.

Fault tests that kill or restart Redis get one of their own from ``private_redis()``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from waasp.embedded import EmbeddedPostgres, EmbeddedRedis
from waasp.embedded.binaries import redis_server
from waasp.embedded.redis import AppendFsync

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _probe_system_servers() -> bool:
    return os.environ.get("WAASP_TEST_NO_SYSTEM_SERVERS", "") not in {"1", "true", "yes"}


class _SessionServers:
    """The embedded servers (and private Redis servers) this test process started."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._redis: EmbeddedRedis | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._private: list[PrivateRedis] = []
        atexit.register(self.stop)

    def _data_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="waasp-test-servers-"))
        return self._dir

    def redis_url(self) -> str:
        if self._redis is None:
            self._redis = EmbeddedRedis(self._data_dir())
            self._redis.start()
            print(f"tests: using embedded Redis at {self._redis.url}", file=sys.stderr)
        return self._redis.url

    def database_url(self) -> str:
        if self._postgres is None:
            self._postgres = EmbeddedPostgres(self._data_dir())
            self._postgres.start()
            print(f"tests: using embedded PostgreSQL at {self._postgres.url}", file=sys.stderr)
        return self._postgres.url

    def track(self, server: PrivateRedis) -> None:
        self._private.append(server)

    def stop(self) -> None:
        """Stop every server started here and remove the temporary data."""
        for private in self._private:
            private.stop()
        self._private.clear()
        for server in (self._postgres, self._redis):
            if server is not None:
                server.stop()
        self._postgres = self._redis = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


_session = _SessionServers()


def redis_url() -> str:
    """Return the URL of a reachable Redis server for the tests."""
    if url := os.environ.get("WAASP_TEST_REDIS_URL"):
        return url
    if _probe_system_servers() and port_open("127.0.0.1", 6379):
        return DEFAULT_REDIS_URL
    return _session.redis_url()


def database_url() -> str:
    """Return the URL of a reachable PostgreSQL server for the tests."""
    if url := os.environ.get("WAASP_TEST_DATABASE_URL"):
        return url
    if _probe_system_servers() and port_open("127.0.0.1", 5432):
        return DEFAULT_DATABASE_URL
    return _session.database_url()


def stop_embedded_servers() -> None:
    """Stop the servers this test process started (session end; also run at exit)."""
    _session.stop()


class PrivateRedis(EmbeddedRedis):
    """A Redis server of one test's own, to SIGKILL (``kill()``) and restart on the same port."""

    def restart(self, *, keep_data: bool = True) -> None:
        """Stop the server if it runs, optionally wipe its data, start it on the same port."""
        self.stop()
        if not keep_data:
            for entry in self.directory.iterdir():
                if entry.name in {"waasp.port", "server.log"}:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        self.start()


def private_redis(tmp_path: Path, appendfsync: AppendFsync = "always") -> PrivateRedis:
    """Start a Redis server of the caller's own, with its data under tmp_path, and return it.

    It runs the system's ``redis-server`` if one is on PATH, else the embedded Valkey,
    with the append-only file on (fsynced at every write by default) and DEBUG allowed
    from localhost. It is stopped at session end if the test does not stop it.
    """
    system = shutil.which("redis-server")
    server = PrivateRedis(
        tmp_path,
        binary=Path(system) if system else redis_server(),
        appendfsync=appendfsync,
        extra_config={"enable-debug-command": "local"},
        start_timeout=30.0,
    )
    server.start()
    _session.track(server)
    return server
