"""Guarantees 1, 2 and 12 across a network stall: one worker's Redis connection frozen for
longer than the visibility timeout by a TCP proxy, while another worker runs beside it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.faults import chaos_app
from tests.faults.chaos_app import Ledger
from tests.faults.conftest import Record, chaos_workers
from tests.faults.flow import Flow, Job, held_by
from tests.integration.runtime.conftest import bound_runtime, wait_until
from tests.proxy import ToggleProxy
from waasp.runtime.app import default_result_url

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(120)]

VISIBILITY_TIMEOUT = 1.0


@pytest.fixture
async def redis_proxy(private_redis: servers.PrivateRedis) -> AsyncIterator[ToggleProxy]:
    """A started proxy in front of the private redis-server."""
    proxy = ToggleProxy("127.0.0.1", private_redis.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.mark.parametrize("stall", [3.5, 12.0], ids=["3.5x-visibility", "past-socket-timeout"])
async def test_frozen_connection_doubles_no_more_than_held_and_wedges_nothing(
    private_redis: servers.PrivateRedis,
    redis_proxy: ToggleProxy,
    key_prefix: str,
    ledger: Redis,
    redis_url: str,
    tmp_path: Path,
    record: Record,
    stall: float,
) -> None:
    """Worker A reaches Redis through a proxy frozen for ``stall`` seconds (longer than the
    visibility timeout; the second case also longer than the worker's socket timeout);
    worker B takes over what A held. Every task finishes, extra executions are at most what
    A held, and A works again after the thaw."""
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    proxied = f"redis://127.0.0.1:{redis_proxy.port}/0"
    by_worker = Ledger.workers_key(key_prefix)
    async with bound_runtime(chaos_app.runtime, private_redis.url, key_prefix) as rt:
        flow = Flow(rt, ledger)
        try:
            a = factory.start(
                concurrency=8,
                env={"WAASP_REDIS_URL": proxied, "WAASP_RESULT_URL": default_result_url(proxied)},
            )
            b = factory.start(concurrency=8)
            await flow.send([Job(i, seconds=random.uniform(0.05, 0.15)) for i in range(2_000)])

            async def a_is_busy() -> bool:
                return int(await ledger.hget(by_worker, a.name) or 0) >= 50

            await wait_until(a_is_busy, timeout=30)
            redis_proxy.freeze()
            held = await held_by(rt, a.name)
            await asyncio.sleep(stall)
            redis_proxy.thaw()
            await flow.wait_finished(timeout=60)
            first = await flow.audit()
            after_thaw = int(await ledger.hget(by_worker, a.name) or 0)
            await flow.send([Job(i, seconds=0.01) for i in range(10_000, 10_500)])
            await flow.wait_finished(timeout=60)

            async def a_works_again() -> bool:
                return int(await ledger.hget(by_worker, a.name) or 0) > after_thaw

            await wait_until(a_works_again, timeout=15)
            assert a.alive() and b.alive()
            lost_leases = a.output().count("leases_lost")
            timeouts = a.output().count("Timeout")
        finally:
            factory.reap()
    record(
        **first.figures(),
        stall_seconds=stall,
        visibility_timeout=VISIBILITY_TIMEOUT,
        held_by_frozen_worker=held,
        bound=held,
        frozen_worker_reported_lost_leases=lost_leases,
        frozen_worker_timeouts_logged=timeouts,
        wedged_workers=0,
    )
    assert first.lost == []
    assert first.duplicates <= held, f"{first.duplicates} duplicates > {held} held by A"
