"""An absolute ``eta`` is read on the producer's clock and becomes a countdown from the Redis
server's clock at send, so a producer whose clock is off still gets the delay it asked for."""

from __future__ import annotations

import time
import types
from datetime import UTC, datetime

import pytest

import waasp.runtime.app
from tests.integration.runtime.conftest import stream_state
from waasp.runtime import Runtime

SKEW = 3600.0  # the producer's clock runs an hour ahead of the server's


@pytest.fixture
def skewed_producer(monkeypatch: pytest.MonkeyPatch) -> float:
    """Move the wall clock the Runtime reads (in this module only) SKEW seconds ahead."""
    monkeypatch.setattr(
        waasp.runtime.app, "time", types.SimpleNamespace(time=lambda: time.time() + SKEW)
    )
    return SKEW


async def server_ms(runtime: Runtime) -> float:
    """The Redis server's clock, epoch ms."""
    seconds, micros = await runtime.broker.client.time()
    return float(seconds) * 1000 + float(micros) / 1000


async def test_eta_is_a_countdown_on_the_server_clock(
    runtime: Runtime, skewed_producer: float
) -> None:
    """eta = producer's now + 5 s is due 5 s after the send by the server's clock."""
    eta = datetime.fromtimestamp(time.time() + skewed_producer + 5, UTC)
    before = await server_ms(runtime)
    await runtime.send_task("tests.integration.runtime.apps.ping", ("later",), eta=eta)
    after = await server_ms(runtime)
    [(_, due)] = await runtime.broker.client.zrange(
        runtime.keys.queue("default").delayed, 0, -1, withscores=True
    )
    assert before + 4_000 <= due <= after + 5_000


async def test_past_eta_on_the_producer_clock_runs_at_once(
    runtime: Runtime, skewed_producer: float
) -> None:
    """An eta already past by the producer's clock goes straight into the stream."""
    eta = datetime.fromtimestamp(time.time() + skewed_producer - 10, UTC)
    await runtime.send_task("tests.integration.runtime.apps.ping", ("now",), eta=eta)
    assert await runtime.broker.client.zcard(runtime.keys.queue("default").delayed) == 0
    assert await stream_state(runtime) == (1, 0)
