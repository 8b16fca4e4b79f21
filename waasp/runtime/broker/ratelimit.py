"""Token buckets in Redis, shared by every process that uses the same broker and prefix.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second, on the Redis
server's clock; each take is one atomic script (``lua/rate_take.lua``). A bucket also counts
its refusals until they are taken (``lua/rate_drain.lua``), so whoever was refused can be
summed up later ("37 more were held back").

Keys: ``PREFIX:rate:BUCKET``, one key per bucket (so one Cluster slot per script call), with
a TTL of twice a full refill.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from waasp.runtime.broker.scripts import read_script


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One take: allowed or not, the seconds until it would be, the refusals not yet taken."""

    allowed: bool
    retry_after: float
    denied: int


class RateLimiter:
    """Takes from named token buckets under one key prefix."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(read_script("rate_take"))
        self._drain = client.register_script(read_script("rate_drain"))

    def key(self, bucket: str) -> str:
        """The Redis key of ``bucket``."""
        return f"{self.prefix}:rate:{bucket}"

    async def acquire(self, bucket: str, rate: float, burst: int, cost: int = 1) -> RateDecision:
        """Take ``cost`` tokens from ``bucket`` (``rate`` per second, ``burst`` at most)."""
        if rate <= 0 or burst < 1 or cost < 1:
            raise ValueError("rate must be > 0, burst and cost >= 1")
        allowed, wait_ms, denied = await self._take(
            keys=[self.key(bucket)], args=[repr(float(rate)), burst, cost]
        )
        return RateDecision(bool(allowed), int(wait_ms) / 1000, int(denied))

    async def take_denied(self, bucket: str) -> int:
        """The refusals ``bucket`` counted since the last call (and count from zero)."""
        return int(await self._drain(keys=[self.key(bucket)]))
