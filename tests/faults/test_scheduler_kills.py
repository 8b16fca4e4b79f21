"""Guarantee 7 under fire: the scheduler that fired last SIGKILLed every few seconds for a
minute, with a fresh one started each time."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults.conftest import Record
from tests.integration.runtime.schedulers import (
    Schedulers,
    assert_each_tick_once_consecutive,
    fired,
    server_now,
    wait_for_ticks,
)
from waasp.runtime import Runtime

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(180)]

RUN_SECONDS = 60.0
SCHEDULERS = 3


def leader(schedulers: Schedulers, live: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """The live scheduler that fired the latest tick (the first one if none fired yet)."""

    def last_fired(proc: subprocess.Popen[bytes]) -> str:
        ticks = [e["tick"] for e in schedulers.log_of(proc) if e.get("event") == "tick_fired"]
        return max(ticks, default="")

    return max(live, key=last_fired)


async def test_leader_sigkilled_every_few_seconds_ticks_exactly_once(
    redis_url: str, key_prefix: str, tmp_path: Path, record: Record
) -> None:
    """Three schedulers of a 1 s entry; for a minute the one that fired last is SIGKILLed
    every 2-4 s and replaced: each second is enqueued exactly once, with no gap."""
    rt = Runtime("waasp", broker_url=redis_url, key_prefix=key_prefix)
    schedulers = Schedulers(redis_url, key_prefix, tmp_path)
    rng = random.Random()
    kills = 0
    leaders_killed = 0
    try:
        live = [schedulers.start() for _ in range(SCHEDULERS)]
        await wait_for_ticks(rt, 1)
        start = await server_now(rt)
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(2.0, 4.0))
            victim = leader(schedulers, live)
            leaders_killed += any(e.get("event") == "tick_fired" for e in schedulers.log_of(victim))
            live.remove(victim)
            schedulers.stop(victim, signal.SIGKILL)
            kills += 1
            live.append(schedulers.start())
        await asyncio.sleep(1.5)
        end = await server_now(rt)
        schedulers.stop_all()
        ticks = await fired(rt)
    finally:
        for proc in schedulers.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        await rt.close()
    window = [f for f in ticks if start < f.tick <= end]
    expected = int((end - start).total_seconds())
    record(
        seconds_run=round((end - start).total_seconds(), 1),
        scheduler_kills=kills,
        leaders_killed=leaders_killed,
        ticks=len(window),
        ticks_expected=expected,
        ticks_doubled=len(ticks) - len({f.tick for f in ticks}),
        ticks_missing=max(expected - len(window), 0),
    )
    assert_each_tick_once_consecutive(ticks)
    assert abs(len(window) - expected) <= 1
    assert leaders_killed >= kills - 1
