"""The private Redis servers fault tests kill and restart."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.servers import PrivateRedis


async def get(url: str, key: str) -> bytes | str | None:
    """Read one key on a fresh connection."""
    client = aioredis.Redis.from_url(url)
    try:
        value: bytes | None = await client.get(key)
    finally:
        await client.aclose()
    return value


async def put(url: str, key: str, value: str) -> None:
    """Write one key on a fresh connection."""
    client = aioredis.Redis.from_url(url)
    try:
        await client.set(key, value)
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_write_survives_sigkill_and_restart(private_redis: PrivateRedis) -> None:
    """With appendfsync always, an acknowledged write survives SIGKILL; the URL is unchanged."""
    url, pid = private_redis.url, private_redis.pid
    await put(url, "k", "v")
    private_redis.kill()
    assert private_redis.pid is None
    private_redis.restart()
    assert private_redis.url == url
    assert private_redis.pid != pid
    assert await get(url, "k") == b"v"


@pytest.mark.slow
async def test_restart_without_data_starts_empty(private_redis: PrivateRedis) -> None:
    """restart(keep_data=False) comes back empty, as a Redis that lost its disk."""
    await put(private_redis.url, "k", "v")
    private_redis.restart(keep_data=False)
    assert await get(private_redis.url, "k") is None


async def test_debug_command_is_allowed(private_redis: PrivateRedis) -> None:
    """Fault tests may use DEBUG (SLEEP, ...) on their private server."""
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        reply = await client.execute_command("DEBUG", "SLEEP", "0")
        assert reply in (b"OK", "OK", True)
    finally:
        await client.aclose()
