"""A worker's heartbeat: who it is, what it holds, and whether its event loop is alive."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from waasp.runtime.broker import ANY_REDIS_ERROR, Broker, Outages

log = structlog.get_logger("waasp.runtime.worker.heartbeat")

# How often the loop clock ticks: a loop late by much more than this is blocked.
TICK_S = 0.1


class LoopClock:
    """Stamps the time whenever the event loop comes round to it, every ``TICK_S``.

    Liveness is the event loop's: a worker whose executors are all busy, and whose reader
    therefore waits for a free slot, is busy, not stalled.
    """

    def __init__(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        """Seconds since the loop last came round (read from any thread)."""
        return max(time.monotonic() - self.last, 0.0)

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            self.last = time.monotonic()
            await asyncio.sleep(TICK_S)


class Heartbeat:
    """Writes the worker's hash (with a TTL) every ``interval`` seconds.

    ``stats`` returns the live figures; ``loop_age`` says how long ago the event loop last
    came round (``LoopClock.age``). A loop silent for ``stall_after`` seconds is reported as
    stalled, and a dead event loop stops the heartbeat altogether, so its key expires.
    """

    def __init__(
        self,
        broker: Broker,
        name: str,
        interval: float,
        stats: Callable[[], Mapping[str, Any]],
        loop_age: Callable[[], float],
        stall_after: float,
        *,
        outages: Outages | None = None,
    ) -> None:
        self.broker = broker
        self.name = name
        self.interval = interval
        self.ttl_ms = int(max(interval * 3, 10.0) * 1000)
        self.stats = stats
        self.loop_age = loop_age
        self.stall_after = stall_after
        self.started_at = time.time()
        self.stalled = False
        self.guard = (outages or Outages()).guard("heartbeat")

    async def run(self) -> None:
        """Beat until cancelled."""
        while True:
            try:
                await self.beat()
            except ANY_REDIS_ERROR as exc:
                await self.guard.failed(exc)
                continue
            self.guard.worked()
            await asyncio.sleep(self.interval)

    async def beat(self) -> None:
        """Write one heartbeat."""
        age = self.loop_age()
        stalled = age > self.stall_after
        if stalled and not self.stalled:
            log.error("worker_stalled", loop_age_s=round(age, 1))
        self.stalled = stalled
        fields: dict[str, Any] = {
            "name": self.name,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "loop_age": round(age, 3),
            "stalled": int(stalled),
            **self.stats(),
        }
        await self.broker.workers.beat(self.name, self.ttl_ms, fields)

    async def remove(self) -> None:
        """Delete the heartbeat at a clean exit."""
        await self.broker.workers.remove(self.name)
