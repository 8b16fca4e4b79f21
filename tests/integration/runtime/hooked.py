"""Helpers for the signal, tracing and error-reporting tests: a runtime of the test's own and
receivers that are always disconnected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from waasp.runtime import Runtime, Worker
from waasp.runtime.app import default_result_url
from waasp.runtime.signals import Receiver, Signal


@asynccontextmanager
async def own_runtime(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """A Runtime with no tasks yet, on the test Redis (results on db 1) under ``key_prefix``."""
    runtime = Runtime(
        "hooked",
        broker_url=redis_url,
        result_url=default_result_url(redis_url),
        key_prefix=key_prefix,
        environ={},
    )
    try:
        yield runtime
    finally:
        await runtime.close()


async def run_burst(runtime: Runtime) -> Worker:
    """Run an in-process worker on the default queue until it is empty; return it."""
    worker = Worker(runtime, ["default"], 2, burst=True)
    await worker.run()
    return worker


class Receivers:
    """Connects receivers for one test and disconnects them all at its end."""

    def __init__(self) -> None:
        self._made: list[tuple[Signal, Receiver, dict[str, Any]]] = []

    def connect(self, signal: Signal, receiver: Receiver, **options: Any) -> Receiver:
        """``signal.connect(receiver, **options)``, undone at the end of the test."""
        signal.connect(receiver, **options)
        self._made.append((signal, receiver, options))
        return receiver

    def close(self) -> None:
        """Disconnect everything connected here."""
        for signal, receiver, options in self._made:
            signal.disconnect(receiver, **options)
        self._made.clear()


@contextmanager
def receivers() -> Iterator[Receivers]:
    """A ``Receivers`` closed on the way out."""
    made = Receivers()
    try:
        yield made
    finally:
        made.close()
