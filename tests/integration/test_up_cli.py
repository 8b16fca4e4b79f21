"""The commands find a running `waasp up` through its data dir, and the token is shown once."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.embedded.test_embedded import processes_under
from tests.integration.test_up import ROOT, _request, _stop, _wait_ready
from tests.servers import free_port

PREFIX = "upclitest"


@pytest.fixture(autouse=True)
def no_orphans(tmp_path: Path) -> Iterator[None]:
    """Kill whatever a failing test left running under its tmp_path."""
    yield
    for pid in processes_under(tmp_path):
        os.kill(pid, signal.SIGKILL)


def _bare_env() -> dict[str, str]:
    """No WAASP_* variable at all: the commands must find the servers themselves."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAASP_")}
    return {**env, "PYTHONPATH": str(ROOT), "WAASP_LOG_FORMAT": "json"}


def _start_up(cwd: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**_bare_env(), "WAASP_PORT": str(port), "WAASP_KEY_PREFIX": PREFIX}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "waasp", "up"], env=env, cwd=cwd, stdout=sink, stderr=sink
        )


def _run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *argv],
        env=_bare_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _waasp(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "-m", "waasp", *args)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_commands_find_the_running_up_and_the_token_is_shown_once(tmp_path: Path) -> None:
    """With no WAASP_* variable set, `waasp` commands and the runtime's CLI use the servers,
    key prefix and token of the `waasp up` running on ./.waasp; status, env and down show and
    stop it; the token is printed when generated, later starts say where it is."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    data_dir = tmp_path / ".waasp"
    process = _start_up(tmp_path, port, log)
    try:
        _wait_ready(base, process, 90)
        assert (data_dir / "instance.json").stat().st_mode & 0o777 == 0o600
        token = (data_dir / "api_token").read_text().strip()
        assert f"API token (new, saved in {data_dir / 'api_token'}): {token}" in log.read_text()

        status = _waasp(tmp_path, "status")
        assert status.returncode == 0, status.stderr
        assert f"pid {process.pid}" in status.stdout and f"{base}/dashboard" in status.stdout
        document = json.loads(_waasp(tmp_path, "status", "--json").stdout)
        assert document["running"] is True and document["url"] == base
        assert document["key_prefix"] == PREFIX and set(document["servers"]) == {
            "redis",
            "postgres",
        }

        assert _waasp(tmp_path, "add", "alice", "--trust", "trusted").returncode == 0
        listed = json.loads(_waasp(tmp_path, "list", "--json").stdout)
        assert [c["sender_id"] for c in listed["contacts"]] == ["alice"]
        queues = _run(tmp_path, "-m", "waasp.runtime", "inspect", "queues", "--json")
        assert queues.returncode == 0, queues.stderr
        names = {q["name"] for q in json.loads(queues.stdout)["queues"]}
        assert names == {"high", "default", "low"}  # the up's worker registered them

        exported = _waasp(tmp_path, "env")
        assert exported.returncode == 0, exported.stderr
        lines = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in exported.stdout.splitlines()
        )
        assert lines["WAASP_DATABASE_URL"] == document["database_url"]
        assert lines["WAASP_REDIS_URL"] == document["redis_url"]
        assert lines["WAASP_KEY_PREFIX"] == PREFIX
        assert lines["WAASP_DATA_DIR"] == str(data_dir)
        assert token not in exported.stdout  # read when evaluated, never printed
        shell = subprocess.run(
            ["sh", "-c", 'eval "$1"; printf %s "$WAASP_API_TOKEN"', "sh", exported.stdout],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        assert shell.stdout == token

        down = _waasp(tmp_path, "down")
        assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
        assert process.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            _stop(process)
    after = _waasp(tmp_path, "status")
    assert after.returncode == 1 and "not running" in after.stdout
    assert _waasp(tmp_path, "down").returncode == 0  # nothing to stop is not an error
    assert _waasp(tmp_path, "env").returncode == 1

    again = _start_up(tmp_path, port, log)
    try:
        _wait_ready(base, again, 90)
        status_code, _ = _request(f"{base}/readyz")
        assert status_code == 200
    finally:
        assert _stop(again) == 0
    text = log.read_text()
    assert text.count(token) == 1, "the token was printed again on a later start"
    assert f"API token: stored in {data_dir / 'api_token'}" in text
    assert processes_under(tmp_path) == []
