"""`waasp up` with no Redis or PostgreSQL configured: it starts the embedded servers."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.embedded.test_embedded import processes_under
from tests.servers import free_port
from waasp.embedded import EmbeddedRedis
from waasp.embedded._process import pid_alive

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "up-test-token-0123456789abcdef"


def _request(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAASP_")}
    env.update(
        PYTHONPATH=str(ROOT),
        WAASP_DATA_DIR=str(data_dir),
        WAASP_PORT=str(port),
        WAASP_API_TOKEN=TOKEN,
        WAASP_KEY_PREFIX="uptest",
        WAASP_LOG_FORMAT="json",
    )
    env.update(extra)
    return env


def _start(data_dir: Path, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "waasp", "up"],
            env=_env(data_dir, port, **extra),
            cwd=data_dir,
            stdout=sink,
            stderr=sink,
        )


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert process.poll() is None, "waasp up exited early"
        try:
            status, _ = _request(f"{base}/readyz")
            if status == 200:
                return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready within {timeout}s")


def _ended(
    process: subprocess.Popen[bytes], timeout: float, failure: str, log: Path | None = None
) -> int:
    """Wait up to ``timeout`` for ``process`` to exit and return its code; else kill it and
    fail the test with ``failure`` (and the tail of ``log``)."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)
        pytest.fail(f"{failure}:\n{log.read_text()[-3000:]}" if log else failure)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_waasp_up_starts_embedded_servers_and_keeps_data(tmp_path: Path) -> None:
    """`waasp up` with no URLs is ready within 60 s, and a contact survives a restart."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    process = _start(tmp_path, port, log)
    try:
        assert _wait_ready(base, process, 60) < 60
        status, _ = _request(
            f"{base}/api/v1/contacts", "POST", {"sender_id": "alice", "trust_level": "trusted"}
        )
        assert status == 201
    finally:
        code = _stop(process)
    assert code == 0, log.read_text()[-3000:]
    process = _start(tmp_path, port, log)
    try:
        _wait_ready(base, process, 60)
        status, contact = _request(f"{base}/api/v1/contacts/alice")
        assert status == 200, contact
        assert contact["trust_level"] == "trusted"
        status, answer = _request(f"{base}/api/v1/check", "POST", {"sender_id": "alice"})
        assert answer["allowed"] is True
    finally:
        code = _stop(process)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()


@pytest.fixture(autouse=True)
def no_orphans(tmp_path: Path) -> Iterator[None]:
    """Kill whatever a failing test left running under its tmp_path."""
    yield
    for pid in processes_under(tmp_path):
        os.kill(pid, signal.SIGKILL)


def _instance(data_dir: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((data_dir / "instance.json").read_text())
    return found


def _server_pids(data_dir: Path) -> dict[str, int]:
    """The pids the embedded servers of ``data_dir`` wrote down (their own pid files)."""
    files = {
        "redis": data_dir / "redis" / "redis.pid",
        "postgres": data_dir / "postgres" / "postmaster.pid",
    }
    return {
        name: int(path.read_text().split("\n", 1)[0])
        for name, path in files.items()
        if path.exists()
    }


def _run(data_dir: Path, port: int, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run a `waasp` command to its end (which must come within 60 s)."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "waasp", *args],
            env=_env(data_dir, port, **extra),
            cwd=data_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`waasp {' '.join(args)}` did not exit within 60 s")


@contextlib.contextmanager
def _up(data_dir: Path, port: int, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """`waasp up` on ``data_dir``, ready (with how long that took); SIGTERMed afterwards, when
    it must exit 0."""
    process = _start(data_dir, port, log)
    try:
        yield process, _wait_ready(f"http://127.0.0.1:{port}", process, 90)
    finally:
        code = _stop(process) if process.poll() is None else process.returncode
    assert code == 0, log.read_text()[-3000:]


def _wait_gone(pids: list[int], timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if pid_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.timeout(180)
def test_port_in_use_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    """`waasp up` (and `serve`) on a port in use says so in one line and exits 1, before it
    starts any server."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command, extra in (
            ("up", {}),
            ("serve", {"WAASP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}),
        ):
            done = _run(tmp_path, port, command, **extra)
            assert done.returncode == 1, (command, done.stderr[-2000:])
            assert done.stderr == (
                f"waasp: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
            ), command
            assert done.stdout == "", command
    assert not (tmp_path / "redis").exists() and not (tmp_path / "postgres").exists()
    assert processes_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_second_up_refuses_and_leaves_the_first_running(tmp_path: Path) -> None:
    """A second `waasp up` on a running data dir says "already running (pid, URL)", exits 1
    and touches nothing: the first one stays ready, on the same servers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _up(tmp_path, port, tmp_path / "up.log") as (first, _):
        servers = _server_pids(tmp_path)
        assert set(servers) == {"redis", "postgres"}
        for second_port in (port, free_port()):
            second = _run(tmp_path, second_port, "up")
            assert second.returncode == 1, second.stderr[-2000:]
            assert f"already running (pid {first.pid}, {base}" in second.stderr
            assert len(second.stderr.splitlines()) == 1, second.stderr
            status, _ = _request(f"{base}/readyz")
            assert status == 200
            assert all(pid_alive(pid) for pid in servers.values())
            assert _server_pids(tmp_path) == servers
        assert _instance(tmp_path)["pid"] == first.pid
        assert _instance(tmp_path)["servers"] == servers
    assert _wait_gone(list(servers.values())) == []
    assert not (tmp_path / "instance.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_stops_only_the_servers_it_started(tmp_path: Path) -> None:
    """A server `waasp up` found running (started by someone else) outlives it; the one it
    started does not."""
    with EmbeddedRedis(tmp_path) as redis:
        with _up(tmp_path, free_port(), tmp_path / "up.log"):
            started = _server_pids(tmp_path)
            assert started["redis"] == redis.pid
        assert redis.running, "waasp up stopped a Redis it had not started"
        assert _wait_gone([started["postgres"]]) == []
    assert processes_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_takes_over_the_servers_a_killed_up_left(tmp_path: Path) -> None:
    """After a `waasp up` was SIGKILLed, the next one adopts its servers and stops them."""
    port = free_port()
    log = tmp_path / "up.log"
    killed = _start(tmp_path, port, log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", killed, 90)
        orphans = list(_server_pids(tmp_path).values())
    finally:
        killed.kill()
        killed.wait(30)
    assert all(pid_alive(pid) for pid in orphans)
    with _up(tmp_path, port, log):
        assert sorted(_server_pids(tmp_path).values()) == sorted(orphans)
    assert _wait_gone(orphans) == []
    assert processes_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_signal_at_any_moment_of_start_up_ends_it(tmp_path: Path) -> None:
    """One SIGINT or SIGTERM, sent at a random moment of start-up (port free or taken), ends
    `waasp up` within a bounded time, leaving no server behind and no traceback."""
    port = free_port()
    log = tmp_path / "up.log"
    with _up(tmp_path, port, log) as (_, start_up):  # initdb once; how long does a start take?
        pass
    rng = random.Random(17)
    for attempt in range(12):
        taken = socket.socket() if attempt % 3 == 2 else None
        try:
            if taken is not None:
                taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
                taken.bind(("127.0.0.1", port))
                taken.listen()
            process = _start(tmp_path, port, log)
            time.sleep(rng.uniform(0, start_up * 1.2))
            sig = signal.SIGINT if attempt % 2 else signal.SIGTERM
            if process.poll() is None:
                process.send_signal(sig)
            code = _ended(process, 90, f"attempt {attempt}: one {sig.name} did not end `waasp up`")
        finally:
            if taken is not None:
                taken.close()
        # 1: the port was taken; 130 or killed by the signal: it came before anything started
        ended = (0, 1, 130, -signal.SIGINT, -signal.SIGTERM)
        assert code in ended, (attempt, code, log.read_text()[-3000:])
        assert _wait_gone(processes_under(tmp_path)) == [], attempt
    text = log.read_text()
    assert "Traceback" not in text and "ExceptionGroup" not in text, text[-3000:]
