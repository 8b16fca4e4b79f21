"""Logged exceptions keep their frames and drop the frames' locals — no I/O."""

from __future__ import annotations

import sys

import orjson

from waasp.log_tracebacks import console_renderer, dict_tracebacks

SECRET = "postgresql://admin:hunter2@db/prod"


def _failing(dsn: str) -> None:
    password = dsn.split(":")[2]
    raise RuntimeError(f"cannot connect ({len(password)} chars)")


def _exc_info() -> tuple[type[BaseException], BaseException, object]:
    try:
        _failing(SECRET)
    except RuntimeError:
        info = sys.exc_info()
        assert info[0] is not None and info[1] is not None
        return info[0], info[1], info[2]
    raise AssertionError("no exception")


def test_json_tracebacks_have_frames_but_no_locals() -> None:
    """The JSON exception field names the frames and leaves out every local variable."""
    event = dict_tracebacks(None, "error", {"event": "x", "exc_info": _exc_info()})
    text = orjson.dumps(event).decode()
    assert "_failing" in text and "RuntimeError" in text
    assert "hunter2" not in text and '"locals"' not in text


def test_console_tracebacks_have_no_locals() -> None:
    """The console renderer prints a plain traceback without locals."""
    rendered = console_renderer()(None, "error", {"event": "x", "exc_info": _exc_info()})
    assert "_failing" in rendered and "hunter2" not in rendered
