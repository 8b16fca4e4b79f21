"""The standalone dashboard as its users start it: a ``python -m waasp.runtime dashboard``
subprocess serving the ``shop`` app, and that app bound to the same Redis and key prefix.

The browser fixtures (``page``, and the failure screenshot) are the WAASP dashboard's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.app.browser.conftest import page, pytest_runtest_makereport
from tests.integration.runtime.conftest import ROOT, bound_runtime
from tests.integration.runtime.dashboard import shop
from waasp.runtime import Runtime

__all__ = ["page", "pytest_runtest_makereport"]  # reused: the WAASP dashboard's browser set-up

APP = "tests.integration.runtime.dashboard.shop:runtime"
START_TIMEOUT = 60.0  # a loaded 2-core machine takes its time to import and bind


@dataclasses.dataclass
class Dashboard:
    """A running standalone dashboard: where it listens and what it printed."""

    base: str  # http://127.0.0.1:PORT
    token: str | None  # the generated token it printed (None when it came from the env)
    printed: list[str]


DashboardFactory = Callable[..., Awaitable[Dashboard]]


@pytest.fixture
async def shop_runtime(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """The shop app, bound to the test Redis under the test's prefix."""
    async with bound_runtime(shop.runtime, redis_url, key_prefix) as rt:
        yield rt


def _shop_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The shop app's variables (a runtime named ``shop`` reads ``SHOP_*``)."""
    names = ("REDIS_URL", "RESULT_URL", "KEY_PREFIX")
    return {f"SHOP_{name}": cli_env[f"WAASP_{name}"] for name in names}


async def _read_banner(proc: asyncio.subprocess.Process) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while not any(line.startswith("token:") for line in lines):
        raw = await proc.stdout.readline()
        if not raw:
            break
        lines.append(raw.decode().rstrip("\n"))
    return lines


@pytest.fixture
async def start_dashboard(
    cli_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[DashboardFactory]:
    """Start ``python -m waasp.runtime dashboard -A shop --port 0`` (extra ``env`` and
    arguments as given); every one started is stopped with SIGTERM afterwards."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str, env: dict[str, str] | None = None) -> Dashboard:
        log = tmp_path / f"dashboard-{len(procs)}.log"
        with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
            proc = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "waasp.runtime", "dashboard", "-A", APP, "--port", "0"),
                *args,
                env={**cli_env, **_shop_env(cli_env), **(env or {})},
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        procs.append(proc)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                lines = await _read_banner(proc)
        except TimeoutError:
            pytest.fail(f"the dashboard did not start; its log: {log}")
        found = re.search(r"http://127\.0\.0\.1:\d+", "\n".join(lines))
        assert found, (lines, log.read_text())
        token = re.search(r"^token: (\S+)  \(set WAASP_DASHBOARD_TOKEN", "\n".join(lines), re.M)
        return Dashboard(found.group(0), token.group(1) if token else None, lines)

    try:
        yield start
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                async with asyncio.timeout(30):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
