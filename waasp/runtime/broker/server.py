"""Which Redis servers the runtime works with: 6.2 or later (or a Valkey that reports as one).

6.2 brought what the runtime cannot do without: XAUTOCLAIM (reclaiming a dead worker's
entries), XGROUP CREATECONSUMER and XPENDING's IDLE filter. A worker checks at start and
refuses an older server with one line, rather than failing later mid-reclaim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waasp.runtime.errors import UnsupportedRedis

MIN_REDIS_VERSION = (6, 2)


def redis_version(info: Mapping[str, Any]) -> tuple[int, ...]:
    """The ``redis_version`` of an ``INFO server`` reply, as numbers; UnsupportedRedis if it
    has none that reads as one."""
    raw = str(info.get("redis_version", ""))
    try:
        return tuple(int(part) for part in raw.split("."))
    except ValueError:
        raise UnsupportedRedis(
            f"cannot read the Redis server's version ({raw!r}); the runtime needs Redis "
            f">= {'.'.join(map(str, MIN_REDIS_VERSION))}"
        ) from None


def check_redis_version(info: Mapping[str, Any]) -> None:
    """Raise UnsupportedRedis unless an ``INFO server`` reply is of Redis 6.2 or later."""
    version = redis_version(info)
    if version < MIN_REDIS_VERSION:
        found = ".".join(map(str, version))
        needed = ".".join(map(str, MIN_REDIS_VERSION))
        raise UnsupportedRedis(
            f"Redis {found} is too old: the runtime needs Redis >= {needed} (XAUTOCLAIM)"
        )
