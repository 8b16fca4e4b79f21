"""Window counters: per-key windows of a fixed length, kept in Redis, shared by every process.

The first event of a key opens its window; the events after it, while the window is open,
are counted; the count is taken (and reset) once. An application folds a burst into one
report with it: report the first event at once, the rest together when the window ends.

Keys (prefix ``waasp``, counter ``notify``)::

    waasp:window:{notify:DIGEST}:open    exists while the window is open (expires with it)
    waasp:window:{notify:DIGEST}:count   events counted in the window, until taken

DIGEST is a hash of the caller's key, so any text can be a key; the two keys of a window
share a hash tag, so the transaction that counts also works on Redis Cluster.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from redis.asyncio import Redis

from waasp.runtime.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
# The count outlives its window so that whoever takes it when the window ends (a delayed
# task, which may start late) still finds it; the next take resets it anyway.
COUNT_LIFETIMES = 3


@dataclass(frozen=True, slots=True)
class WindowHit:
    """What one event did: open its key's window, or count into the open one."""

    opened: bool
    count: int = 0  # events counted into the open window so far, this one included
    left: float = 0.0  # seconds until the open window closes


class WindowCounter:
    """Windows of ``length`` seconds, one per key, under the runtime's key prefix."""

    def __init__(self, client: Redis, prefix: str, name: str, length: float) -> None:
        if not _NAME.match(name):
            raise ConfigurationError(
                f"invalid window counter name {name!r}: use 1-100 letters, digits, '_', '.', '-'"
            )
        if not length > 0:
            raise ConfigurationError(f"window counter {name!r}: length must be > 0")
        self.client = client
        self.name = name
        self.length_ms = max(int(length * 1000), 1)
        self._base = f"{prefix}:window:{{{name}:"

    def _keys(self, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self._base}{digest}}}:open", f"{self._base}{digest}}}:count"

    async def hit(self, key: str) -> WindowHit:
        """Open ``key``'s window if none is open, else count this event into the open one."""
        opened, count = self._keys(key)
        if await self.client.set(opened, b"1", nx=True, px=self.length_ms):
            return WindowHit(opened=True)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(count)
            pipe.pexpire(count, self.length_ms * COUNT_LIFETIMES)
            pipe.pttl(opened)
            counted, _, left_ms = await pipe.execute()
        return WindowHit(opened=False, count=int(counted), left=max(int(left_ms), 0) / 1000)

    async def take(self, key: str) -> int:
        """The events counted for ``key`` since the last take; the count starts again at 0."""
        value = await self.client.getdel(self._keys(key)[1])
        return int(value) if value else 0
