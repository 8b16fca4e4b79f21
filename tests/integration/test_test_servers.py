"""The servers the suite runs against answer: system, configured or embedded."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis


async def test_redis_answers(redis_url: str) -> None:
    """The session's Redis answers PING and has Redis 7 commands (XAUTOCLAIM)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.ping()
        version = (await client.info("server"))["redis_version"]
    finally:
        await client.aclose()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (7, 0)


async def test_postgres_answers(database_url: str) -> None:
    """The session's PostgreSQL runs queries."""
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
