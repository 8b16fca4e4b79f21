"""Blocked-sender notifications against hostile input, end to end (the API on loopback, Redis,
an in-process worker, a fake webhook): attacker text arrives escaped, redirects are not
followed, a flood of strangers is capped and summed up, and no result keys pile up."""

from __future__ import annotations

import asyncio
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
from waasp.api.server import start_server
from waasp.background import create_api
from waasp.runtime import Worker
from waasp.settings import Settings
from waasp.tasks import QUEUES, WaaspTasks, build

ATTACK = (
    "<!channel> re-login at <https://evil.example/login|https://waasp.internal/login>"
    "\r\nWAASP: all clear \u202eevil"
)


@dataclass
class Running:
    """WAASP's tasks with a worker running, and its API served on loopback."""

    tasks: WaaspTasks
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
        pattern = f"{self.tasks.runtime.conf.key_prefix}:result:*"
        return [key async for key in self.tasks.runtime.results.client.scan_iter(match=pattern)]


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start(settings: Settings, redis_url: str) -> AsyncIterator[Start]:
    """Start WAASP (tasks, a worker, the API) with settings overrides on a fresh prefix."""
    started: list[tuple[WaaspTasks, Worker, asyncio.Task[None], web.AppRunner]] = []

    async def factory(**overrides: Any) -> Running:
        own = replace(
            settings,
            redis_url=redis_url,
            key_prefix=f"t{secrets.token_hex(5)}",
            notify_retry_delay=0.05,
            notify_max_retries=3,
            **overrides,
        )
        tasks = build(own)
        worker = Worker(tasks.runtime, list(QUEUES), 4, shutdown_timeout=5)
        working = asyncio.create_task(worker.run())
        runner, url = await start_server(create_api(own, tasks.runtime), "127.0.0.1", 0)
        started.append((tasks, worker, working, runner))
        return Running(tasks, url)

    yield factory
    for tasks, worker, working, runner in started:
        await runner.cleanup()
        worker.stop()
        await asyncio.wait_for(working, 15)
        await delete_prefix(tasks.runtime)
        await tasks.runtime.close()


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


async def _dead_letters(running: Running, count: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        letters = await running.tasks.runtime.dlq.list(limit=1000)
        if len(letters) >= count or time.monotonic() > deadline:
            return letters
        await asyncio.sleep(0.1)


async def test_a_flood_of_strangers_is_capped_and_summed_up(
    start: Start, hook: WebhookReceiver
) -> None:
    """60 distinct strangers against a cap of 5 per 2 s: a handful of notifications (the cap,
    and what refilled meanwhile) and one summary that counts every other one."""
    running = await start(notify_webhook_url=hook.url, notify_global_max=5, notify_window=2.0)
    await running.check(*(f"stranger-{i}" for i in range(60)))
    deadline = time.monotonic() + 15
    while not any("held_back" in body for body in hook.delivered):
        assert time.monotonic() < deadline, hook.delivered
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    singles = [body for body in hook.delivered if "held_back" not in body]
    [summary] = [body for body in hook.delivered if "held_back" in body]
    assert 5 <= len(singles) <= 8
    assert len(singles) + summary["held_back"] == 60


@pytest.mark.timeout(60)
async def test_a_webhook_answering_429_gets_a_bounded_number_of_attempts(start: Start) -> None:
    """200 strangers while the webhook answers 429 (the probe saw 800 attempts and 200 dead
    letters): attempts stay within (cap + refill + summary) x 4, dead letters likewise."""
    refusing = await WebhookReceiver(fail_first=10**6, status=429).start()
    try:
        running = await start(
            notify_webhook_url=refusing.url, notify_global_max=5, notify_window=2.0
        )
        await running.check(*(f"stranger-{i}" for i in range(200)))
        await asyncio.sleep(4.0)  # the window ends, the summary goes (and fails) too
        letters = await _dead_letters(running, 1, 10.0)
        await asyncio.sleep(1.0)
        assert refusing.attempts <= (8 + 1) * 4, refusing.attempts
        assert len(await running.tasks.runtime.dlq.list(limit=1000)) <= 8 + 1
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
