"""Blocked-sender notifications against hostile input, end to end (the API on loopback, Redis,
an in-process worker, a fake webhook): attacker text arrives escaped, redirects are not
followed, a flood of strangers is capped and summed up, and no result keys pile up."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.integration.app.conftest import delete_prefix
from tests.integration.app.hooks import WebhookReceiver
from waasp.api import create_app
from waasp.api.server import start_server
from waasp.runtime import Worker
from waasp.runtime.monitor import task_counters
from waasp.settings import Settings
from waasp.tasks import QUEUES, WaaspRuntime

ATTACK = (
    "<!channel> re-login at <https://evil.example/login|https://waasp.internal/login>"
    "\r\nWAASP: all clear \u202eevil"
)


@dataclass
class Running:
    """WAASP's runtime with a worker running, and its API served on loopback."""

    runtime: WaaspRuntime
    url: str

    async def check(self, *senders: str) -> None:
        """One anonymous check per sender (each blocked: nobody was added)."""
        async with aiohttp.ClientSession() as session:
            for sender in senders:
                body = {"sender_id": sender}
                async with session.post(f"{self.url}/api/v1/check", json=body) as response:
                    assert response.status == 200

    async def result_keys(self) -> list[bytes]:
        """The task result keys stored on the result backend under this prefix."""
        pattern = f"{self.runtime.conf.key_prefix}:result:*"
        return [key async for key in self.runtime.results.client.scan_iter(match=pattern)]


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start(settings: Settings, redis_url: str) -> AsyncIterator[Start]:
    """Start WAASP (its runtime, a worker, the API) with settings overrides on a fresh
    prefix."""
    started: list[tuple[WaaspRuntime, Worker, asyncio.Task[None], web.AppRunner]] = []

    async def factory(**overrides: Any) -> Running:
        own = replace(
            settings,
            redis_url=redis_url,
            key_prefix=f"t{secrets.token_hex(5)}",
            notify_retry_delay=0.05,
            notify_max_retries=3,
            **overrides,
        )
        runtime = WaaspRuntime(own)
        worker = Worker(runtime, list(QUEUES), 4, shutdown_timeout=5)
        working = asyncio.create_task(worker.run())
        app = create_app(own, runtime=runtime, notify=runtime.notify_blocked_sender)
        runner, url = await start_server(app, "127.0.0.1", 0)
        started.append((runtime, worker, working, runner))
        return Running(runtime, url)

    yield factory
    for runtime, worker, working, runner in started:
        await runner.cleanup()
        worker.stop()
        await asyncio.wait_for(working, 15)
        await delete_prefix(runtime)
        await runtime.close()


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver that accepts everything."""
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def test_attacker_text_arrives_escaped(start: Start, hook: WebhookReceiver) -> None:
    """A sender id holding a Slack mention, a disguised link, CR/LF and a bidi override
    reaches the webhook with &, <, > escaped and the invisible characters shown."""
    running = await start(notify_webhook_url=hook.url)
    await running.check(ATTACK)
    await hook.wait_for(1, 5.0)
    text = str(hook.delivered[0]["text"])
    assert "<" not in text and ">" not in text and "\r" not in text and "\n" not in text
    assert "&lt;!channel&gt;" in text
    assert "&lt;https://evil.example/login|https://waasp.internal/login&gt;" in text
    assert "[U+000D][U+000A]" in text and "[U+202E]" in text


async def test_redirects_are_not_followed(start: Start) -> None:
    """A webhook that answers 307 to another path: nothing is POSTed there; the notification
    is refused for good (dead-lettered naming the status), not retried."""
    elsewhere = await WebhookReceiver().start()
    redirecting = web.Application()

    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(elsewhere.url)

    redirecting.router.add_post("/hook", redirect)
    runner = web.AppRunner(redirecting, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        running = await start(notify_webhook_url=url)
        await running.check("stranger")
        letters = await _dead_letters(running, 1, 10.0)
        assert elsewhere.attempts == 0
        assert "answered 307" in str(letters[0].error)
    finally:
        await runner.cleanup()
        await elsewhere.stop()


async def _decided(running: Running, count: int, timeout: float) -> None:
    """Wait until the worker has run ``count`` notify_blocked_sender tasks (each one's call
    on the global cap is made by then)."""
    deadline = time.monotonic() + timeout
    while True:
        counters = await task_counters(running.runtime)
        done = counters.counts.get("waasp.tasks.notify_blocked_sender", {}).get("succeeded", 0)
        if done >= count:
            return
        assert time.monotonic() < deadline, f"{done} of {count} blocked senders decided"
        await asyncio.sleep(0.05)


def _budget(cap: int, window: float, seconds: float) -> int:
    """The most notifications a cap of ``cap`` per ``window`` lets out while senders are
    decided for ``seconds``: a full bucket, what refills meanwhile, and a summary for each
    window that held some back. (The refill is why it is measured: a loaded machine decides
    slower, and more goes out, as it should.)"""
    return cap + math.ceil(seconds * cap / window) + math.floor(seconds / window) + 1


def _reported(delivered: list[dict[str, Any]]) -> int:
    """Strangers the webhook heard of: one per notification, ``held_back`` per summary."""
    return sum(int(body.get("held_back", 1)) for body in delivered)


async def _dead_letters(running: Running, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        letters = await running.runtime.dlq.list(limit=1000)
        if len(letters) >= count or time.monotonic() > deadline:
            return letters
        await asyncio.sleep(0.1)


async def test_a_flood_of_strangers_is_capped_and_summed_up(
    start: Start, hook: WebhookReceiver
) -> None:
    """60 distinct strangers against a cap of 5 per 2 s: a handful of notifications (the cap,
    and what refilled meanwhile) and summaries that count every other one."""
    running = await start(notify_webhook_url=hook.url, notify_global_max=5, notify_window=2.0)
    started = time.monotonic()
    await running.check(*(f"stranger-{i}" for i in range(60)))
    await _decided(running, 60, 15.0)
    budget = _budget(5, 2.0, time.monotonic() - started)
    deadline = time.monotonic() + 15
    while _reported(hook.delivered) < 60:
        assert time.monotonic() < deadline, hook.delivered
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    singles = [body for body in hook.delivered if "held_back" not in body]
    summaries = [body for body in hook.delivered if "held_back" in body]
    assert len(singles) >= 5 and len(singles) + len(summaries) <= budget, hook.delivered
    assert summaries and _reported(hook.delivered) == 60


@pytest.mark.timeout(60)
async def test_a_webhook_answering_429_gets_a_bounded_number_of_attempts(start: Start) -> None:
    """200 strangers while the webhook answers 429 (the probe saw 800 attempts and 200 dead
    letters): attempts stay within (cap + refill + summaries) x 4, dead letters likewise."""
    refusing = await WebhookReceiver(fail_first=10**6, status=429).start()
    try:
        running = await start(
            notify_webhook_url=refusing.url, notify_global_max=5, notify_window=2.0
        )
        started = time.monotonic()
        await running.check(*(f"stranger-{i}" for i in range(200)))
        await _decided(running, 200, 30.0)
        budget = _budget(5, 2.0, time.monotonic() - started)
        await asyncio.sleep(2.5)  # the window ends, the summary goes (and fails) too
        letters = await _dead_letters(running, 1, 10.0)
        await asyncio.sleep(1.0)
        assert refusing.attempts <= budget * 4, (refusing.attempts, budget)
        assert len(await running.runtime.dlq.list(limit=1000)) <= budget
        assert len(letters) >= 1
    finally:
        await refusing.stop()


async def test_notification_tasks_store_no_results(start: Start, hook: WebhookReceiver) -> None:
    """1,000 blocked checks of one sender (the probe saw 1,001 result keys): the
    fire-and-forget notification tasks leave no result key behind."""
    running = await start(notify_webhook_url=hook.url)
    await running.check(*(["same-stranger"] * 1000))
    await hook.wait_for(1, 5.0)
    await asyncio.sleep(1.0)
    assert await running.result_keys() == []
