"""Reconnect backoff for the worker's loops when Redis goes away."""

from __future__ import annotations

import asyncio
import random

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a lost, refused or stalled connection raises; a restarted Redis may also answer
# LOADING or BUSY for a moment, which redis-py raises as BusyLoadingError (a ConnectionError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


class Backoff:
    """Exponential delays with jitter, from ``initial`` up to ``maximum`` seconds."""

    def __init__(self, initial: float = 0.05, maximum: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def reset(self) -> None:
        """Forget earlier failures after a success."""
        self.failures = 0

    async def sleep(self) -> None:
        """Wait before the next attempt."""
        delay = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
