"""Ctrl-C while a command loads: a KeyboardInterrupt as usual, and one that is remembered.

Python raises SIGINT's KeyboardInterrupt wherever the main thread happens to be. Raised in a
finalizer (the import system's weakref callbacks run on every import) or under a library's
``except BaseException``, it is swallowed and the Ctrl-C is lost: ``waasp up`` would go on
starting and run. Remembered, it ends the command anyway, before it starts anything.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

_noted: list[int] = []
_replaced = [sys.unraisablehook]  # the hook ours replaced, when it was installed


def note_interrupts() -> None:
    """From now on, remember every SIGINT as well as raising KeyboardInterrupt; a remembered
    one that a finalizer swallowed is not reported as an error."""
    if signal.getsignal(signal.SIGINT) is not _interrupt:
        signal.signal(signal.SIGINT, _interrupt)
    # Wrapped once: ``main`` may note and restore again and again in one process (tests).
    if sys.unraisablehook is not _unraisable:
        _replaced[0] = sys.unraisablehook
        sys.unraisablehook = _unraisable


def interrupted() -> bool:
    """Tell whether a SIGINT came since ``note_interrupts``."""
    return bool(_noted)


def restore_default() -> None:
    """Give SIGINT back to Python's own handler, which ``asyncio.run`` recognises and turns
    into a cancellation of its main task."""
    if signal.getsignal(signal.SIGINT) is _interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _unraisable(args: sys.UnraisableHookArgs) -> None:
    if not (_noted and issubclass(args.exc_type, KeyboardInterrupt)):
        _replaced[0](args)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    _noted.append(signum)
    raise KeyboardInterrupt
