"""``waasp up`` and Redis's eviction policy: it warns under an evicting policy, and with
``--strict`` it stops with one line instead of serving."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.integration.runtime.conftest import wait_until

ROOT = Path(__file__).resolve().parents[3]


async def evicting(server: servers.PrivateRedis) -> str:
    """Set the server to allkeys-lru; return its URL."""
    admin = Redis.from_url(server.url)
    try:
        await admin.config_set("maxmemory-policy", "allkeys-lru")
    finally:
        await admin.aclose()
    return server.url


def start_up(
    redis_url: str, database_url: str, tmp_path: Path, *args: str
) -> subprocess.Popen[bytes]:
    """Start ``waasp up ARGS`` on those servers, its output in ``tmp_path/up.log``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAASP_")}
    env.update(
        PYTHONPATH=str(ROOT),
        WAASP_DATA_DIR=str(tmp_path),
        WAASP_REDIS_URL=redis_url,
        WAASP_DATABASE_URL=database_url,
        WAASP_PORT=str(servers.free_port()),
        WAASP_API_TOKEN="up-strict-token-0123456789abcdef",
        WAASP_KEY_PREFIX=f"upstrict{secrets.token_hex(4)}",
        WAASP_LOG_FORMAT="json",
    )
    with (tmp_path / "up.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "waasp", "up", *args],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def exited(up: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait (without blocking the event loop) for ``up`` to exit; kill it after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (code := up.poll()) is None:
        if time.monotonic() > deadline:
            up.kill()
            up.wait(10)
            pytest.fail(f"waasp up still running after {timeout}s")
        await asyncio.sleep(0.1)
    return code


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_up_strict_refuses_an_evicting_redis(
    private_redis: servers.PrivateRedis, app_database_url: str, tmp_path: Path
) -> None:
    """``waasp up --strict`` against an allkeys-lru Redis exits 1 with one error line."""
    up = start_up(await evicting(private_redis), app_database_url, tmp_path, "--strict")
    code = await exited(up, timeout=120)
    output = (tmp_path / "up.log").read_text()
    assert code == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("waasp: error:")]
    assert len(errors) == 1 and "maxmemory-policy is allkeys-lru" in errors[0], output


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_up_warns_about_an_evicting_redis(
    private_redis: servers.PrivateRedis, app_database_url: str, tmp_path: Path
) -> None:
    """Without --strict, ``waasp up`` logs eviction_policy_unsafe and serves on."""
    up = start_up(await evicting(private_redis), app_database_url, tmp_path)
    log = tmp_path / "up.log"
    try:

        async def warned() -> bool:
            return '"event":"eviction_policy_unsafe"' in log.read_text() or up.poll() is not None

        await wait_until(warned, timeout=120, interval=0.1)
        assert up.poll() is None, log.read_text()
        up.send_signal(signal.SIGTERM)
        code = await exited(up, timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
    assert code == 0, log.read_text()
