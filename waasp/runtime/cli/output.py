"""What the commands print, and how they stop on a signal."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

import orjson


def emit(as_json: bool, document: Any, text: Callable[[], str]) -> None:
    """Print one JSON document (for scripts) or human-readable text."""
    if as_json:
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(text() + "\n")


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """Make SIGTERM and SIGINT call ``stop`` (a second signal exits at once)."""
    loop = asyncio.get_running_loop()
    received = 0

    def handler() -> None:
        nonlocal received
        received += 1
        if received > 1:
            sys.stderr.write("error: second signal, exiting now\n")
            raise SystemExit(1)
        stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handler)
