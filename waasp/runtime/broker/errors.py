"""What Redis failures look like to the runtime's loops."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a lost, refused or stalled connection raises; a restarted Redis may also answer
# LOADING or BUSY for a moment, which redis-py raises as BusyLoadingError (a ConnectionError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


def is_nogroup(exc: ResponseError) -> bool:
    """Tell whether Redis answered that the stream or its consumer group is missing."""
    return str(exc).startswith("NOGROUP")
