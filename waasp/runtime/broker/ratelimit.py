"""Token buckets in Redis, shared by every process that uses the same broker and prefix.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second, on the Redis
server's clock; each take is one atomic script (``lua/rate_take.lua``). A bucket also counts
its refusals until they are taken (``lua/rate_drain.lua``), so whoever was refused can be
summed up later ("37 more were held back").

``reserve`` is the same bucket for work that can wait: a take that finds no token reserves
the next free slot instead of being refused, so many waiters are spaced one interval apart
(each comes back once, at its slot) rather than all retrying at the next token.

Keys: ``PREFIX:rate:BUCKET``, one key per bucket (so one Cluster slot per script call), with
a TTL of twice a full refill (and of the reserved slots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from waasp.runtime.broker.scripts import read_script

# How long past its slot a reservation is honoured: one claimed later (its worker was busy)
# takes a token afresh, so late arrivals cannot bunch up beyond the rate.
RESERVATION_GRACE_MS = 1000


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One take: allowed or not, the seconds until it would be, the refusals not yet taken."""

    allowed: bool
    retry_after: float
    denied: int


@dataclass(frozen=True, slots=True)
class Reservations:
    """The answer to ``reserve``: the server's time, and per take the ms until its slot (0:
    it may go now)."""

    now_ms: int
    waits_ms: list[int]


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
        _, denied, wait_ms = await self._take(
            keys=[self.key(bucket)], args=[repr(float(rate)), burst, cost, 0, 0, 0]
        )
        return RateDecision(int(wait_ms) == 0, int(wait_ms) / 1000, int(denied))

    async def acquire_many(self, bucket: str, rate: float, burst: int, count: int) -> list[float]:
        """Take one token ``count`` times from ``bucket`` in one round trip, each take
        answered on its own as ``acquire`` would (in order): 0.0 allowed, else the seconds
        until it would be (and counted as a refusal)."""
        if rate <= 0 or burst < 1 or count < 1:
            raise ValueError("rate must be > 0, burst and count >= 1")
        args = [repr(float(rate)), burst, 1, 0, 0, *([0] * count)]
        _, _, *waits = await self._take(keys=[self.key(bucket)], args=args)
        return [int(wait) / 1000 for wait in waits]

    async def reserve(self, bucket: str, rate: float, claims: Sequence[int]) -> Reservations:
        """Take one token per entry of ``claims`` from ``bucket`` (``rate`` per second, a
        burst of 1, as Celery's rate limits), reserving the next free slot for each take that
        finds none. A claim is the slot (epoch ms) an earlier ``reserve`` gave that take, or
        0; one claimed in time goes without taking again."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        args = [repr(float(rate)), 1, 1, 1, RESERVATION_GRACE_MS, *claims]
        now, _, *waits = await self._take(keys=[self.key(bucket)], args=args)
        return Reservations(int(now), [int(w) for w in waits])

    async def take_denied(self, bucket: str) -> int:
        """The refusals ``bucket`` counted since the last call (and count from zero)."""
        return int(await self._drain(keys=[self.key(bucket)]))
