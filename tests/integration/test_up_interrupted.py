"""A Ctrl-C whose KeyboardInterrupt Python swallows while `waasp up` loads still ends it.

Python raises the KeyboardInterrupt wherever the main thread is; inside a finalizer (the
import system runs weakref callbacks on every import) it is reported as "Exception ignored"
and lost. A hook run at start-up (sitecustomize) delivers SIGINT exactly there, at the
import of a chosen module.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.embedded.test_embedded import processes_under
from tests.integration.test_up import ROOT, _ended, _start, _wait_gone
from tests.servers import free_port

MARK = "sigint-inside-a-finalizer"
HOOK = f"""
import signal, sys, weakref

fired = []


def interrupt_in_a_finalizer(event, args):
    if event == "import" and args[0] == MODULE and not fired:
        fired.append(True)
        print("{MARK}", file=sys.stderr, flush=True)
        dropped = type("Dropped", (), {{}})()
        ref = weakref.ref(dropped, lambda _: signal.raise_signal(signal.SIGINT))
        del dropped  # the callback runs here, and the KeyboardInterrupt dies with it


sys.addaudithook(interrupt_in_a_finalizer)
"""


@pytest.fixture(autouse=True)
def no_orphans(tmp_path: Path) -> Iterator[None]:
    """Kill the servers a `waasp up` that missed its signal (and was killed) left running."""
    yield
    for pid in processes_under(tmp_path):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("module", "code"),
    [
        ("waasp.cli.main", 130),  # before the command runs: it exits as for a Ctrl-C
        ("waasp.up", 0),  # `up` loading its runtime: it stops at once, having started nothing
    ],
)
def test_a_swallowed_interrupt_still_ends_start_up(tmp_path: Path, module: str, code: int) -> None:
    """SIGINT delivered inside a finalizer at the import of ``module`` ends `waasp up` with
    ``code``, before it starts a server, and without a word on stderr."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(f"MODULE = {module!r}\n{HOOK}")
    log = tmp_path / "up.log"
    process = _start(tmp_path, free_port(), log, PYTHONPATH=f"{hook}:{ROOT}")
    ended = _ended(process, 60, f"the SIGINT at the import of {module} was lost", log)
    text = log.read_text()
    assert MARK in text, "the hook did not fire"
    assert ended == code, text[-3000:]
    assert "WAASP is up" not in text and "embedded_server_started" not in text, text[-3000:]
    assert "Traceback" not in text and "Exception ignored" not in text, text[-3000:]
    assert _wait_gone(processes_under(tmp_path)) == []
