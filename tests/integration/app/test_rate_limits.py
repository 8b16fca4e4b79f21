"""Rate limits on the real Redis: token buckets shared by every process, the check route's
per-address limit (429 with Retry-After) across two API servers, and what is exempt."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.integration.app.conftest import AUTH, ServeFactory, delete_prefix
from tests.integration.app.test_monitor_api import closed_port
from waasp.api.errors import HttpError
from waasp.api.throttle import CheckThrottle, client_bucket
from waasp.runtime import RateLimiter, Runtime


@pytest.fixture
async def twin_runtimes(redis_url: str) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one Redis and one fresh prefix, as two API processes would have."""
    prefix = f"rate{secrets.token_hex(5)}"
    first = Runtime("waasp", broker_url=redis_url, key_prefix=prefix, environ={})
    second = Runtime("waasp", broker_url=redis_url, key_prefix=prefix, environ={})
    yield first, second
    await delete_prefix(first)
    await first.close()
    await second.close()


async def test_bucket_allows_its_burst_then_refuses_with_a_wait(
    twin_runtimes: tuple[Runtime, Runtime],
) -> None:
    """A bucket of 5 at 10/s: 5 takes pass, the 6th is refused with ~0.1 s to wait and counted
    as a refusal; after the wait one more passes; the refusals are taken once."""
    limiter = twin_runtimes[0].rate_limiter()
    decisions = [await limiter.acquire("b", 10.0, 5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert 0 < decisions[-1].retry_after <= 0.1 and decisions[-1].denied == 1
    await asyncio.sleep(decisions[-1].retry_after + 0.02)
    assert (await limiter.acquire("b", 10.0, 5)).allowed
    assert await limiter.take_denied("b") == 1
    assert await limiter.take_denied("b") == 0


async def test_bucket_is_shared_and_expires(twin_runtimes: tuple[Runtime, Runtime]) -> None:
    """Two runtimes (two processes) draw from the same bucket; the key carries a TTL."""
    first, second = (rt.rate_limiter() for rt in twin_runtimes)
    assert (await first.acquire("shared", 0.5, 2)).allowed
    assert (await second.acquire("shared", 0.5, 2)).allowed
    assert not (await first.acquire("shared", 0.5, 2)).allowed
    ttl = await twin_runtimes[0].broker.client.pttl(first.key("shared"))
    assert 0 < ttl <= 9000


def test_ipv6_clients_share_their_slash_64() -> None:
    """Addresses of one IPv6 /64 share a bucket; IPv4 addresses each have their own."""
    assert client_bucket("2001:db8:1:2::1") == client_bucket("2001:db8:1:2:ffff::9")
    assert client_bucket("2001:db8:1:2::1") != client_bucket("2001:db8:1:3::1")
    assert client_bucket("192.0.2.1") != client_bucket("192.0.2.2")
    assert client_bucket(None) == "check:unknown"


async def _statuses(url: str, count: int, headers: dict[str, str] | None = None) -> list[int]:
    async with aiohttp.ClientSession() as session:
        statuses = []
        for i in range(count):
            async with session.get(f"{url}/api/v1/check/s{i}", headers=headers) as response:
                statuses.append(response.status)
                if response.status == 429:
                    body = await response.json()
                    assert response.headers["Retry-After"] == str(body["details"]["retry_after"])
                    assert int(response.headers["Retry-After"]) >= 1
        return statuses


async def test_check_rate_is_per_address_across_api_processes(
    serve: ServeFactory, twin_runtimes: tuple[Runtime, Runtime]
) -> None:
    """Two API servers on one broker, burst 5 at 0.1/s: anonymous checks from 127.0.0.1 get 5
    answers in all, then 429 with Retry-After, whichever server they ask."""
    first = await serve(runtime=twin_runtimes[0], check_rate=0.1, check_burst=5)
    second = await serve(runtime=twin_runtimes[1], check_rate=0.1, check_burst=5)
    assert await _statuses(first.url, 3) == [200] * 3
    assert await _statuses(second.url, 4) == [200, 200, 429, 429]
    assert await _statuses(first.url, 1) == [429]


async def test_tokens_are_exempt_and_wrong_tokens_are_not(
    serve: ServeFactory, twin_runtimes: tuple[Runtime, Runtime]
) -> None:
    """The admin token and the check token pass however many checks they make; a wrong token
    draws from the address's bucket (403 until it is empty, then 429)."""
    served = await serve(
        runtime=twin_runtimes[0], check_rate=0.1, check_burst=2, check_token="gate-token"
    )
    assert await _statuses(served.url, 6, AUTH) == [200] * 6
    gate = {"Authorization": "Bearer gate-token"}
    assert await _statuses(served.url, 6, gate) == [200] * 6
    wrong = {"Authorization": "Bearer guess"}
    assert await _statuses(served.url, 4, wrong) == [403, 403, 429, 429]


async def test_checks_go_on_when_the_broker_is_down(serve: ServeFactory) -> None:
    """With Redis unreachable the limit is skipped: checks answer, quickly."""
    down = Runtime("waasp", broker_url=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    try:
        served = await serve(runtime=down, check_rate=1.0, check_burst=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await _statuses(served.url, 5) == [200] * 5
        assert loop.time() - started < 3
    finally:
        await down.close()


async def test_acquire_many_answers_each_take_in_one_call(
    twin_runtimes: tuple[Runtime, Runtime],
) -> None:
    """Seven takes from a bucket of 5 in one call: the first five pass, the last two are
    refused with a wait and counted as refusals, as seven ``acquire`` calls would be."""
    limiter = twin_runtimes[0].rate_limiter()
    answers = await limiter.acquire_many("many", 10.0, 5, 7)
    assert answers[:5] == [0.0] * 5
    assert all(0 < wait <= 0.2 for wait in answers[5:]) and len(answers) == 7
    assert await limiter.take_denied("many") == 2


class CountingLimiter(RateLimiter):
    """The runtime's limiter, counting its round trips."""

    def __init__(self, limiter: RateLimiter) -> None:
        super().__init__(limiter.client, limiter.prefix)
        self.calls = 0

    async def acquire_many(self, bucket: str, rate: float, burst: int, count: int) -> list[float]:
        self.calls += 1
        return await super().acquire_many(bucket, rate, burst, count)


async def test_concurrent_checks_from_one_address_share_round_trips(
    twin_runtimes: tuple[Runtime, Runtime],
) -> None:
    """Twenty checks at once from one address, burst 5: exactly five pass and fifteen get a
    429, in fewer round trips than checks."""
    limiter = CountingLimiter(twin_runtimes[0].rate_limiter())
    throttle = CheckThrottle(limiter, 0.01, 5)
    outcomes = await asyncio.gather(
        *(throttle.admit("192.0.2.7") for _ in range(20)), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, HttpError)]
    assert outcomes.count(None) == 5 and len(refused) == 15
    assert all(error.status == 429 for error in refused)
    assert 1 <= limiter.calls < 20
    assert not throttle._callers and not throttle._waiting  # nothing left behind
