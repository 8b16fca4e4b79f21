"""Guarantees 9 and 12: redis-server killed and restarted under a running worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests import servers
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    get_when_reachable,
    rebind,
    worker_env,
)
from waasp.runtime import Runtime
from waasp.runtime.broker.errors import REDIS_ERRORS
from waasp.runtime.results import AsyncResult


async def send_when_reachable(x: int, y: int, timeout: float = 15.0) -> AsyncResult:
    """``add.delay`` retried while the restarted server is still coming up (client side)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await apps.add.delay(x, y)
        except REDIS_ERRORS:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["kept", "lost"])
async def test_worker_survives_redis_restart(
    runtime: Runtime,
    private_redis: servers.PrivateRedis,
    key_prefix: str,
    tmp_path: Path,
    data: str,
) -> None:
    """redis-server SIGKILLed and restarted (with its AOF, or with its data gone): tasks sent
    afterwards succeed on the same worker process, which recreates its stream and group."""
    await rebind(runtime, private_redis.url)
    factory = WorkerFactory(worker_env(private_redis.url, key_prefix, 1.0), tmp_path)
    try:
        worker = factory.start(concurrency=4)
        assert await (await apps.add.delay(1, 1)).get(timeout=15) == 2
        for round_ in range(2):
            private_redis.kill()
            await asyncio.sleep(0.5)  # the worker sees the server gone
            private_redis.restart(keep_data=data == "kept")
            results = [await send_when_reachable(round_, i) for i in range(10)]
            for i, result in enumerate(results):
                assert await get_when_reachable(result) == round_ + i, worker.output()
            assert worker.alive(), worker.output()
        if data == "lost":
            assert "consumer_group_recreated" in worker.output()
    finally:
        factory.reap()


@pytest.mark.slow
async def test_producer_sends_at_once_after_redis_restart(
    runtime: Runtime, private_redis: servers.PrivateRedis
) -> None:
    """The pooled connections a restarted server closed are replaced when taken from the pool:
    the first enqueues after the restart succeed, none raises ConnectionError."""
    await rebind(runtime, private_redis.url)
    await asyncio.gather(*(apps.add.delay(i, i) for i in range(8)))  # several pooled
    private_redis.kill()
    private_redis.restart()
    await asyncio.sleep(0.1)  # the event loop sees the old connections closed
    await asyncio.gather(*(apps.add.delay(i, 1) for i in range(8)))
    for i in range(8):
        await apps.add.delay(i, 2)
    stream = runtime.keys.queue("default").stream
    assert await runtime.broker.client.xlen(stream) == 8 + 8 + 8
