"""A Redis that may evict the runtime's keys: a worker warns at start, or with --strict
refuses to start (under allkeys-lru the delay set was evicted: 0 of 200 delayed tasks ran)."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests import servers
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import WorkerFactory, rebind, worker_env
from waasp.runtime import Runtime


async def set_policy(server: servers.PrivateRedis, policy: str) -> None:
    """Set the server's maxmemory-policy."""
    admin = Redis.from_url(server.url)
    try:
        await admin.config_set("maxmemory-policy", policy)
    finally:
        await admin.aclose()


@pytest.mark.slow
async def test_worker_warns_about_an_evicting_redis_and_serves(
    runtime: Runtime, private_redis: servers.PrivateRedis, key_prefix: str, tmp_path: Path
) -> None:
    """Under allkeys-lru a worker logs eviction_policy_unsafe once, naming the policy, and
    serves on."""
    await set_policy(private_redis, "allkeys-lru")
    await rebind(runtime, private_redis.url)
    factory = WorkerFactory(worker_env(private_redis.url, key_prefix, 2.0), tmp_path)
    try:
        worker = factory.start(concurrency=2)
        assert await (await apps.add.delay(2, 3)).get(timeout=30) == 5
        output = worker.output()
        assert output.count('"event":"eviction_policy_unsafe"') == 1, output
        assert '"policy":"allkeys-lru"' in output
        assert worker.alive()
    finally:
        factory.reap()


@pytest.mark.slow
async def test_strict_worker_refuses_an_evicting_redis(
    private_redis: servers.PrivateRedis, key_prefix: str, tmp_path: Path
) -> None:
    """Under allkeys-lru ``worker --strict`` exits 1 with one line saying why."""
    await set_policy(private_redis, "allkeys-lru")
    factory = WorkerFactory(worker_env(private_redis.url, key_prefix, 2.0), tmp_path)
    try:
        worker = factory.start(concurrency=2, extra_args=("--strict",))
        code = await worker.exited(timeout=60)
    finally:
        factory.reap()
    output = worker.output()
    assert code == 1, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "maxmemory-policy is allkeys-lru" in errors[0], output


@pytest.mark.slow
async def test_strict_worker_runs_on_noeviction(
    runtime: Runtime, private_redis: servers.PrivateRedis, key_prefix: str, tmp_path: Path
) -> None:
    """Under noeviction ``worker --strict`` starts, serves, and says nothing of eviction."""
    await set_policy(private_redis, "noeviction")
    await rebind(runtime, private_redis.url)
    factory = WorkerFactory(worker_env(private_redis.url, key_prefix, 2.0), tmp_path)
    try:
        worker = factory.start(concurrency=2, extra_args=("--strict",))
        assert await (await apps.add.delay(1, 1)).get(timeout=30) == 2
        assert "eviction_policy" not in worker.output()
    finally:
        factory.reap()
