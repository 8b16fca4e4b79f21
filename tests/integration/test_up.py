"""`waasp up` with no Redis or PostgreSQL configured: it starts the embedded servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port

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


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAASP_")}
    env.update(
        PYTHONPATH=str(ROOT),
        WAASP_DATA_DIR=str(data_dir),
        WAASP_PORT=str(port),
        WAASP_API_TOKEN=TOKEN,
        WAASP_KEY_PREFIX="uptest",
        WAASP_LOG_FORMAT="json",
    )
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "waasp", "up"], env=env, cwd=data_dir, stdout=sink, stderr=sink
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
