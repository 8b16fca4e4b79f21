"""Logged exceptions keep their frames and drop the frames' locals, in both formats — no I/O."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from waasp.runtime.logs import configure_logging

SECRET = "postgresql://admin:hunter2@db/prod"


def _failing(dsn: str) -> None:
    password = dsn.split(":")[2]
    raise RuntimeError(f"cannot connect ({len(password)} chars)")


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], str]]:
    """Configure logging in a format, log one failure through structlog and one through the
    stdlib, and return what reached stderr; the previous set-up is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def log_failure(fmt: str) -> str:
        configure_logging(fmt, "error")
        try:
            _failing(SECRET)
        except RuntimeError:
            structlog.get_logger().exception("connect_failed")
            logging.getLogger("waasp.test").exception("connect failed")
        return capsys.readouterr().err

    yield log_failure
    structlog.reset_defaults()
    root.handlers = handlers
    root.setLevel(level)


def test_json_tracebacks_have_frames_but_no_locals(logged: Callable[[str], str]) -> None:
    """The JSON exception field names the frames and leaves out every local variable."""
    lines = logged("json").splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "_failing" in line and "RuntimeError" in line
        assert "hunter2" not in line and '"locals"' not in line


def test_console_tracebacks_have_no_locals(logged: Callable[[str], str]) -> None:
    """The console format prints plain tracebacks without locals."""
    text = logged("console")
    assert text.count("in _failing") == 2
    assert "hunter2" not in text
