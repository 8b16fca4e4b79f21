"""The embedded Redis refuses writes when full rather than evicting tasks."""

from __future__ import annotations

from redis.asyncio import Redis

from tests import servers


async def test_embedded_redis_is_configured_noeviction(
    private_redis: servers.PrivateRedis,
) -> None:
    """Its configuration file says ``maxmemory-policy noeviction``, and the server runs so."""
    assert "maxmemory-policy noeviction" in private_redis.config_path.read_text().splitlines()
    client = Redis.from_url(private_redis.url)
    try:
        assert (await client.info("memory"))["maxmemory_policy"] == "noeviction"
    finally:
        await client.aclose()
