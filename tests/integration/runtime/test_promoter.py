"""The promoter moves due delayed messages into their stream: all of a mass-due storm, in due
order; a burst in the order it was scheduled; one scheduled earlier than everything it waits
for, without waiting for its next look; and those due within its lead ahead of time, with
their due time, which the worker holds them until."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

import waasp.runtime.worker.promoter
from tests.integration.runtime import apps
from tests.integration.runtime.conftest import runs, start_times, wait_until
from waasp.runtime import Runtime, Worker
from waasp.runtime.broker import PROMOTE_LEAD_MS
from waasp.runtime.worker.promoter import Promoter

STORM = 10_000


@pytest.fixture
async def promoter(runtime: Runtime) -> AsyncIterator[Promoter]:
    promoter = Promoter(runtime.broker, ["default"])
    task = asyncio.create_task(promoter.run())
    yield promoter
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def server_ms(runtime: Runtime) -> float:
    seconds, micros = await runtime.broker.client.time()
    return float(seconds) * 1000 + float(micros) / 1000


async def streamed(runtime: Runtime) -> list[bytes]:
    entries = await runtime.broker.client.xrange(runtime.keys.queue("default").stream)
    return [fields[b"message"] for _, fields in entries]


@pytest.mark.usefixtures("promoter")
async def test_a_mass_due_storm_is_promoted_whole_and_in_due_order(runtime: Runtime) -> None:
    """10,000 messages due within one second (a retry storm) all reach the stream, in the
    order they fall due, though each promotion moves at most a batch."""
    q = runtime.keys.queue("default")
    now = await server_ms(runtime)
    # Scores spread over one second from now; inserted out of order on purpose.
    members = {f"m{i:05d}".encode(): now + 200 + i * 0.1 for i in reversed(range(STORM))}
    await runtime.broker.client.zadd(q.delayed, members)

    async def all_promoted() -> bool:
        return int(await runtime.broker.client.xlen(q.stream)) == STORM

    await wait_until(all_promoted, timeout=60)
    assert await runtime.broker.client.zcard(q.delayed) == 0
    assert await streamed(runtime) == sorted(members)


@pytest.mark.usefixtures("promoter")
async def test_a_burst_is_promoted_in_the_order_it_was_scheduled(runtime: Runtime) -> None:
    """200 delayed messages scheduled back to back come due a fraction of a millisecond
    apart; promotions that take a few at a time keep their order."""
    bodies = [f"b{i:03d}".encode() for i in range(200)]
    for body in bodies:
        await runtime.broker.schedule("default", body, delay_ms=300)

    async def all_promoted() -> bool:
        return len(await streamed(runtime)) == len(bodies)

    await wait_until(all_promoted, timeout=30)
    assert await streamed(runtime) == bodies


async def test_an_earlier_due_time_wakes_a_sleeping_promoter(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its safety-net sleep made an hour long, the promoter holding a message due in an
    hour still promotes one scheduled later but due sooner: the schedule wakes it. (Started
    here, after the patch, not by the fixture.)"""
    monkeypatch.setattr(waasp.runtime.worker.promoter, "MAX_SLEEP", 3600.0)
    q = runtime.keys.queue("default")
    await runtime.broker.schedule("default", b"later", delay_ms=3_600_000)
    promoter = Promoter(runtime.broker, ["default"])
    task = asyncio.create_task(promoter.run())
    try:

        async def subscribed() -> bool:
            [(_, count)] = await runtime.broker.client.pubsub_numsub(q.wake)
            return int(count) > 0

        await wait_until(subscribed, timeout=10)
        await runtime.broker.schedule("default", b"sooner", delay_ms=50)

        async def promoted() -> bool:
            return await streamed(runtime) == [b"sooner"]

        await wait_until(promoted, timeout=30)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await runtime.broker.client.zrange(q.delayed, 0, -1) == [b"later"]


async def test_messages_due_within_the_lead_are_promoted_with_their_due_time(
    runtime: Runtime,
) -> None:
    """One promotion moves what is due and what falls due within PROMOTE_LEAD_MS; the second
    carries its due time (the server's clock) into its entry, and both read paths (a plain
    read, and the priorities' script) hand it over."""
    q = runtime.keys.queue("default")
    now = await server_ms(runtime)
    soon = now + PROMOTE_LEAD_MS / 2
    await runtime.broker.client.zadd(q.delayed, {b"due": now - 1, b"soon": soon})
    promoted = await runtime.broker.promote("default")
    assert promoted.moved == 2 and promoted.wait_us == -1
    assert now / 1000 <= promoted.now < now / 1000 + 5
    entries = await runtime.broker.client.xrange(q.stream)
    assert [fields for _, fields in entries] == [
        {b"message": b"due"},
        {b"message": b"soon", b"due": str(math.ceil(soon * 1000)).encode()},
    ]
    await runtime.broker.ensure_group("default")
    read = await runtime.broker.read(["default"], "c1", 1, None)
    best = await runtime.broker.read_best({"default": ()}, "c1", 1)
    assert [(d.raw, d.due_us) for d in read + best] == [
        (b"due", 0),
        (b"soon", math.ceil(soon * 1000)),
    ]


async def test_a_task_promoted_ahead_starts_no_sooner_than_due(runtime: Runtime) -> None:
    """Tasks delayed by 50 ms reach a worker's stream up to PROMOTE_LEAD_MS early; the worker
    holds each until its due time (read off the server's clock) before it starts it."""
    sent: dict[str, float] = {}
    for i in range(40):
        tag = f"held-{i}"
        sent[tag] = await server_ms(runtime) / 1000
        await apps.ping.apply_async((tag,), countdown=0.05)
    await Worker(runtime, ["default"], 8, burst=True).run()
    for tag, at in sent.items():
        assert await runs(runtime, f"ping:{tag}") == 1
        [started] = await start_times(runtime, f"ping:{tag}")
        assert started >= at + 0.05, (tag, started - at)
