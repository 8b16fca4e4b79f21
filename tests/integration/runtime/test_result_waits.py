"""Result waiters across a cut pub/sub connection: every waiter gets its result, and the
shared pub/sub connection is never connected twice at once (which orphaned a socket)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import bound_runtime, get_when_reachable
from tests.proxy import ToggleProxy
from waasp.runtime import Runtime
from waasp.runtime.app import default_result_url
from waasp.runtime.broker.client import connect
from waasp.runtime.broker.results import ResultBackend
from waasp.runtime.message import ResultRecord, TaskMeta
from waasp.runtime.results import AsyncResult
from waasp.runtime.states import SUCCESS


@pytest.fixture
async def proxied(redis_url: str, key_prefix: str) -> AsyncIterator[tuple[Runtime, ToggleProxy]]:
    """The test app with its results read through a proxy the test can cut."""
    target = urlsplit(redis_url)
    proxy = ToggleProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    async with bound_runtime(apps.runtime, redis_url, key_prefix) as rt:
        rt.conf.update(result_backend=f"redis://127.0.0.1:{proxy.port}/1")
        try:
            yield rt, proxy
        finally:
            await rt.close()
            await proxy.stop()


async def test_waiters_survive_cut_pubsub_connections(
    proxied: tuple[Runtime, ToggleProxy], redis_url: str
) -> None:
    """Waiters started in bursts while the pub/sub connection is down or coming back: each
    burst subscribes concurrently with the listener's reconnect; every waiter still gets its
    result, and no socket is left unclosed."""
    runtime, proxy = proxied
    results = [AsyncResult(f"w{i}", runtime) for i in range(60)]
    waiting = [asyncio.create_task(get_when_reachable(r)) for r in results[:20]]
    await asyncio.sleep(0.2)  # subscribed, listener reading
    for burst in range(2):
        await proxy.stop()
        await asyncio.sleep(0.1)
        await proxy.start()
        # The record reads' pooled connections are stale: drop them so the burst's reads
        # succeed and all of its subscribes meet the down pub/sub connection at once.
        await runtime.results.client.connection_pool.disconnect()
        start = 20 + burst * 20
        waiting += [asyncio.create_task(get_when_reachable(r)) for r in results[start : start + 20]]
        await asyncio.sleep(0.05)

    writer = connect(default_result_url(redis_url))
    try:
        records = [
            ResultRecord(TaskMeta(id=r.id, state=SUCCESS, result=i)) for i, r in enumerate(results)
        ]
        # Written on the real server, not through the proxy; published to the waiters.
        await ResultBackend(writer, runtime.keys, 60, writer).store_many(records)
    finally:
        await writer.aclose()
    assert await asyncio.gather(*waiting) == list(range(60))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
