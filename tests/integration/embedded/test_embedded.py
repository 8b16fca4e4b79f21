"""The embedded Valkey and PostgreSQL: persistence, reuse, clean stops, clear failures."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from waasp.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServerError,
    embedded_servers,
    start_embedded_servers,
)
from waasp.embedded._process import pid_alive


def processes_under(path: Path) -> list[int]:
    """Return the pids of live processes whose command line or cwd lies under path."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (str(path) in cmdline or cwd.startswith(str(path))) and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def children_of(pid: int) -> list[int]:
    """Return the pids whose parent is pid."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@pytest.fixture(autouse=True)
def no_orphans(tmp_path: Path) -> Iterator[None]:
    """Kill whatever a failing test left running under its tmp_path."""
    yield
    for pid in processes_under(tmp_path):
        os.kill(pid, signal.SIGKILL)


async def write_both(redis_url: str, database_url: str) -> None:
    """Store a key in Redis and a row in PostgreSQL."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set("embedded:probe", "kept")
    finally:
        await client.aclose()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE probe (value text); INSERT INTO probe VALUES ('kept')")
    finally:
        await conn.close()


async def read_both(redis_url: str, database_url: str) -> tuple[bytes | str | None, str | None]:
    """Read back what write_both stored."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        value = await client.get("embedded:probe")
    finally:
        await client.aclose()
    conn = await asyncpg.connect(database_url)
    try:
        row: str | None = await conn.fetchval("SELECT value FROM probe")
    finally:
        await conn.close()
    return value, row


async def test_data_survives_stop_and_start(tmp_path: Path) -> None:
    """What was written before a stop is read back after the next start, on the same URLs."""
    async with embedded_servers(tmp_path) as first:
        assert first.redis_url is not None
        assert first.database_url is not None
        await write_both(first.redis_url, first.database_url)
        urls = (first.redis_url, first.database_url)
    assert processes_under(tmp_path) == []

    async with embedded_servers(tmp_path) as second:
        assert (second.redis_url, second.database_url) == urls
        assert await read_both(*urls) == (b"kept", "kept")
    assert (tmp_path / "redis" / "appendonlydir").is_dir()
    assert (tmp_path / "postgres" / "PG_VERSION").is_file()


async def test_servers_bind_localhost_with_append_only(tmp_path: Path) -> None:
    """Redis runs append-only and both servers listen on 127.0.0.1 only."""
    async with embedded_servers(tmp_path) as servers:
        assert servers.redis_url is not None
        assert servers.database_url is not None
        client = aioredis.Redis.from_url(servers.redis_url)
        try:
            config = await client.config_get("*")
            version = (await client.info("server"))["redis_version"]
        finally:
            await client.aclose()
        conn = await asyncpg.connect(servers.database_url)
        try:
            listen = await conn.fetchval("SHOW listen_addresses")
        finally:
            await conn.close()
    assert config["appendonly"] == "yes"
    assert config["bind"] == "127.0.0.1"
    assert tuple(int(part) for part in version.split(".")[:2]) >= (7, 0)
    assert listen == "127.0.0.1"


def test_second_start_reuses_running_servers(tmp_path: Path) -> None:
    """Starting a data dir whose servers run adopts them rather than failing or doubling."""
    first = start_embedded_servers(tmp_path)
    second = start_embedded_servers(tmp_path)
    try:
        assert second.redis is not None and first.redis is not None
        assert second.postgres is not None and first.postgres is not None
        assert not first.redis.reused and not first.postgres.reused
        assert second.redis.reused and second.postgres.reused
        assert second.redis.pid == first.redis.pid
        assert second.postgres.pid == first.postgres.pid
        assert (second.redis_url, second.database_url) == (first.redis_url, first.database_url)
        second.stop()
        assert not first.redis.running and not first.postgres.running
    finally:
        first.stop()
    assert processes_under(tmp_path) == []


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    """Stopping ends each server and every child process PostgreSQL forked."""
    servers = start_embedded_servers(tmp_path)
    assert servers.redis is not None and servers.postgres is not None
    assert servers.redis.pid is not None and servers.postgres.pid is not None
    pids = [servers.redis.pid, servers.postgres.pid, *children_of(servers.postgres.pid)]
    assert len(pids) > 2  # PostgreSQL's checkpointer, writers, ...
    servers.stop()
    assert [pid for pid in pids if pid_alive(pid)] == []
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_adopts_servers_left_by_a_crashed_run(tmp_path: Path) -> None:
    """Servers a dead process left running are adopted by the next start, then stopped."""
    script = (
        "import sys; from waasp.embedded import start_embedded_servers;"
        "s = start_embedded_servers(sys.argv[1]); print(s.redis.pid, s.postgres.pid)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    # structlog, unconfigured, logs to stdout too: the pids are the last line.
    orphans = [int(pid) for pid in done.stdout.splitlines()[-1].split()]
    assert all(pid_alive(pid) for pid in orphans)

    servers = start_embedded_servers(tmp_path)
    try:
        assert servers.redis is not None and servers.postgres is not None
        assert servers.redis.reused and servers.postgres.reused
        assert [servers.redis.pid, servers.postgres.pid] == orphans
    finally:
        servers.stop()
    assert not any(pid_alive(pid) for pid in orphans)
    assert processes_under(tmp_path) == []


def test_start_failure_names_the_cause_from_the_log(tmp_path: Path) -> None:
    """A server that cannot start raises EmbeddedServerError quoting its log, leaving nothing."""
    server = EmbeddedRedis(tmp_path, extra_config={"no-such-directive": "1"})
    with pytest.raises(EmbeddedServerError, match=r"(?s)exited with code 1.*no-such-directive"):
        server.start()
    assert processes_under(tmp_path) == []


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    """A server program that does not exist is reported as an EmbeddedServerError."""
    with pytest.raises(EmbeddedServerError, match="embedded redis: cannot run"):
        EmbeddedRedis(tmp_path, binary=tmp_path / "no-such-server").start()
    with pytest.raises(EmbeddedServerError, match="initdb failed"):
        EmbeddedPostgres(tmp_path, bindir=tmp_path).start()


async def test_remembered_port_taken_by_another_program(tmp_path: Path) -> None:
    """When the remembered port was taken meanwhile, the server starts on a new one, and says so."""
    server = EmbeddedRedis(tmp_path)
    with server:
        first_port = server.port
    blocker = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", first_port)
    try:
        with capture_logs() as logs, server:
            assert server.port != first_port
    finally:
        blocker.close()
        await blocker.wait_closed()
    changed = [entry for entry in logs if entry["event"] == "embedded_port_changed"]
    assert changed and changed[0]["previous"] == first_port


def test_start_timeout_stops_the_server_it_launched(tmp_path: Path) -> None:
    """A server that does not answer in time is stopped, and the error says it timed out."""
    server = EmbeddedRedis(tmp_path, start_timeout=0)
    with pytest.raises(EmbeddedServerError, match=r"did not answer on 127\.0\.0\.1:"):
        server.start()
    assert processes_under(tmp_path) == []
