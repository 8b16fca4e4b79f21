"""The otel and sentry extras stay optional: the runtime never imports them, and their
contrib modules say which extra to install when it is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.runtime.conftest import ROOT


def run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter from the repository root."""
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_runtime_imports_neither_extra() -> None:
    """With both packages unimportable, the runtime, its worker and its signals import (redis-py
    itself imports OpenTelemetry when it is installed, so blocking is the test, not a look at
    ``sys.modules``)."""
    done = run(
        "import sys\n"
        "sys.modules['opentelemetry'] = sys.modules['sentry_sdk'] = None\n"
        "import waasp.runtime, waasp.runtime.worker.worker, waasp.runtime.signals\n"
        "print('imported')"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("otel", "opentelemetry", "waasp[otel]"), ("sentry", "sentry_sdk", "waasp[sentry]")],
)
def test_a_missing_extra_is_named(module: str, blocked: str, extra: str) -> None:
    """Without the package, importing the contrib module raises ImportError naming the extra."""
    done = run(
        f"import sys\nsys.modules[{blocked!r}] = None\nimport waasp.runtime.contrib.{module}\n"
    )
    assert done.returncode != 0
    assert "ImportError" in done.stderr
    assert f"pip install '{extra}'" in done.stderr
