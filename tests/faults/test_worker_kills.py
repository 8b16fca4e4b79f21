"""Guarantee 1 under fire: workers SIGKILLed at random moments while 10,000 tasks flow."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.faults import chaos_app
from tests.faults.conftest import VISIBILITY_TIMEOUT, Record, chaos_workers
from tests.faults.flow import Flow, held_by, mixed_jobs
from tests.integration.runtime.conftest import bound_runtime

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(240)]

TASKS = 10_000
KILLS = 3


async def test_workers_sigkilled_at_random_lose_nothing(
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
) -> None:
    """10,000 mixed tasks, three workers, one SIGKILLed at a random moment three times and a
    fresh one started each time: every task ends in its final state, every attempt ran, and
    extra executions are at most what the killed workers held."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        flow = Flow(rt, ledger)
        try:
            await flow.send(mixed_jobs(TASKS, rng))
            live = [factory.start(concurrency=8) for _ in range(3)]
            started = time.monotonic()
            held: list[int] = []
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.8, 2.5))
                victim = live.pop(rng.randrange(len(live)))
                victim.kill()
                held.append(await held_by(rt, victim.name))
                live.append(factory.start(concurrency=8))
            await flow.wait_finished(timeout=150)
            elapsed = time.monotonic() - started
            audit = await flow.audit()
            survivors_alive = all(w.alive() for w in live)
        finally:
            factory.reap()
    record(
        **audit.figures(),
        seed=seed,
        kills=KILLS,
        workers_started=len(factory.started),
        held_at_kills=held,
        bound=sum(held),
        drain_seconds=round(elapsed, 1),
    )
    assert audit.sent == TASKS
    assert audit.lost == [], f"lost tasks (seed {seed}): {audit.lost[:20]}"
    assert audit.wrong_state == []
    assert audit.unexpected_attempts == [], "a retry was scheduled twice"
    assert audit.dead_letters == audit.expected_dead_letters
    assert audit.duplicates <= sum(held), f"{audit.duplicates} duplicates > held {held}"
    assert survivors_alive
