"""The check route's per-address rate limit: a token bucket per client address in Redis, so
every API process of a deployment draws from the same one (``WAASP_CHECK_RATE`` per second,
``WAASP_CHECK_BURST`` at once).

Callers holding a token (the admin's, or ``WAASP_CHECK_TOKEN``) are not limited; refused
tokens are, so guessing one costs the same as checking. A check never depends on Redis: with
the broker unreachable the limit is skipped (and for a second not tried again), and a
warning says so.

Checks from one address that arrive while its bucket is being asked wait for that answer and
then go to Redis together, one take each in one script call (``RateLimiter.acquire_many``):
every check is still decided on its own, in arrival order, but a busy client costs the API one
round trip per batch rather than one per check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time

import structlog

from waasp.api.errors import HttpError
from waasp.runtime import REDIS_ERRORS, RateLimiter

log = structlog.get_logger(__name__)

REDIS_TIMEOUT = 0.25
COOL_DOWN = 1.0
_UNREACHABLE: tuple[type[BaseException], ...] = (TimeoutError, *REDIS_ERRORS)


def client_bucket(remote: str | None) -> str:
    """The bucket of a client address: an IPv4 address as is, an IPv6 one by its /64 (a
    single host is usually given a whole /64)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return f"check:{remote or 'unknown'}"
    if address.version == 6:
        return f"check:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"check:{address}"


class CheckThrottle:
    """Admits or refuses (429) anonymous checks by client address."""

    def __init__(self, limiter: RateLimiter, rate: float, burst: int) -> None:
        self.limiter = limiter
        self.rate = rate
        self.burst = burst
        self._skip_until = 0.0
        # Per bucket: the checks waiting for the next call, and the task making the calls.
        self._waiting: dict[str, list[asyncio.Future[float]]] = {}
        self._callers: dict[str, asyncio.Task[None]] = {}

    async def admit(self, remote: str | None) -> None:
        """Take a token for this address, or raise 429 with Retry-After."""
        if time.monotonic() < self._skip_until:
            return
        bucket = client_bucket(remote)
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(bucket, []).append(waiter)
        if bucket not in self._callers:
            self._callers[bucket] = asyncio.create_task(self._call(bucket))
        retry_after = await waiter
        if retry_after > 0:
            wait = max(1, math.ceil(retry_after))
            raise HttpError(
                429,
                "too many checks from this address",
                {"retry_after": wait},
                headers={"Retry-After": str(wait)},
            )

    async def _call(self, bucket: str) -> None:
        """Take for every check waiting on ``bucket``, batch after batch, until none waits."""
        waiters: list[asyncio.Future[float]] = []
        try:
            while waiters := self._waiting.pop(bucket, []):
                try:
                    async with asyncio.timeout(REDIS_TIMEOUT):
                        answers = await self.limiter.acquire_many(
                            bucket, self.rate, self.burst, len(waiters)
                        )
                except _UNREACHABLE as exc:
                    self._skip_until = time.monotonic() + COOL_DOWN
                    log.warning("check_rate_limit_skipped", error=str(exc) or type(exc).__name__)
                    answers = [0.0] * len(waiters)
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter, answer in zip(waiters, answers, strict=True):
                    if not waiter.done():  # not cancelled (its client left)
                        waiter.set_result(answer)
        finally:
            del self._callers[bucket]
            # Cancelled (the app is stopping): nobody is left waiting for an answer.
            for waiter in (*waiters, *self._waiting.pop(bucket, [])):
                waiter.cancel()
