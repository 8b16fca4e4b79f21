"""WAASP's background work end to end: blocked-sender notifications (one process and split),
retries, folding, audit rows under worker kills, cleanup and rollups, a broker that is down."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.integration.app.conftest import AUTH, TOKEN
from tests.integration.app.hooks import WebhookReceiver
from tests.servers import free_port
from waasp.api import create_app
from waasp.runtime import Worker
from waasp.settings import Settings
from waasp.tasks import QUEUES, WaaspRuntime

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver that accepts everything."""
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def bg_settings(settings: Settings, redis_url: str) -> Settings:
    """Settings with a private key prefix on the test Redis and fast notification retries."""
    return replace(
        settings,
        redis_url=redis_url,
        key_prefix=f"t{secrets.token_hex(5)}",
        notify_retry_delay=0.05,
        notify_window=60.0,
    )


def _api(settings: Settings, runtime: WaaspRuntime) -> web.Application:
    """The API as ``waasp serve`` wires it to the task runtime."""
    return create_app(settings, runtime=runtime, notify=runtime.notify_blocked_sender)


async def _checks(
    settings: Settings, runtime: WaaspRuntime, *senders: str
) -> list[dict[str, object]]:
    app = _api(settings, runtime)
    async with TestClient(TestServer(app)) as client:
        answers = []
        for sender in senders:
            response = await client.post("/api/v1/check", json={"sender_id": sender})
            assert response.status == 200
            answers.append(await response.json())
    return answers


async def _run_worker(runtime: WaaspRuntime) -> tuple[Worker, asyncio.Task[None]]:
    worker = Worker(runtime, list(QUEUES), 4, shutdown_timeout=5)
    return worker, asyncio.create_task(worker.run())


async def _stop(runtime: WaaspRuntime, worker: Worker, running: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(running, 15)
    await runtime.close()


async def test_blocked_check_posts_one_notification_in_one_process(
    bg_settings: Settings, hook: WebhookReceiver
) -> None:
    """A blocked check leads to one webhook POST within 2 s with the worker in-process."""
    runtime = WaaspRuntime(replace(bg_settings, notify_webhook_url=hook.url))
    worker, running = await _run_worker(runtime)
    try:
        [answer] = await _checks(bg_settings, runtime, "stranger-1")
        assert answer["allowed"] is False
        assert await hook.wait_for(1, 2.0) < 2.0
        await asyncio.sleep(0.3)
        assert len(hook.delivered) == 1
        assert "stranger-1" in str(hook.delivered[0]["text"])
    finally:
        await _stop(runtime, worker, running)


async def test_webhook_failing_three_times_delivers_exactly_once(
    bg_settings: Settings,
) -> None:
    """A webhook that fails 3 times then succeeds receives exactly one notification."""
    receiver = await WebhookReceiver(fail_first=3).start()
    runtime = WaaspRuntime(replace(bg_settings, notify_webhook_url=receiver.url))
    worker, running = await _run_worker(runtime)
    try:
        await _checks(bg_settings, runtime, "stranger-2")
        await receiver.wait_for(1, 5.0)
        await asyncio.sleep(0.5)
        assert receiver.attempts == 4
        assert len(receiver.delivered) == 1
    finally:
        await _stop(runtime, worker, running)
        await receiver.stop()


async def test_webhook_rejecting_for_good_dead_letters_the_notification(
    bg_settings: Settings,
) -> None:
    """A 4xx other than 429 is permanent: no retry, the notification is dead-lettered."""
    receiver = await WebhookReceiver(fail_first=100, status=404).start()
    runtime = WaaspRuntime(replace(bg_settings, notify_webhook_url=receiver.url))
    worker, running = await _run_worker(runtime)
    try:
        await _checks(bg_settings, runtime, "stranger-3")
        deadline = time.monotonic() + 5
        while not sum((await runtime.dlq.count()).values()):
            assert time.monotonic() < deadline, "nothing dead-lettered"
            await asyncio.sleep(0.05)
        [letter] = await runtime.dlq.list()
        assert letter.message is not None
        assert letter.message.task == "waasp.tasks.notify_deliver"
        assert receiver.attempts == 1
    finally:
        await _stop(runtime, worker, running)
        await receiver.stop()


async def test_a_burst_of_blocks_is_folded_into_one_follow_up(
    bg_settings: Settings, hook: WebhookReceiver
) -> None:
    """Five blocks of one sender in a window: one notification now, one follow-up saying 4."""
    settings = replace(bg_settings, notify_webhook_url=hook.url, notify_window=1.0)
    runtime = WaaspRuntime(settings)
    worker, running = await _run_worker(runtime)
    try:
        await _checks(settings, runtime, *["burst"] * 5)
        await hook.wait_for(1, 2.0)
        await hook.wait_for(2, 3.0)
        await asyncio.sleep(0.3)
        assert [body["folded"] for body in hook.delivered] == [0, 4]
    finally:
        await _stop(runtime, worker, running)


async def test_blocked_check_answers_within_a_second_with_redis_down(
    bg_settings: Settings,
) -> None:
    """With the broker unreachable, a blocked check still answers 200 within 1 s."""
    settings = replace(bg_settings, redis_url="redis://127.0.0.1:1/0")
    runtime = WaaspRuntime(settings)
    app = _api(settings, runtime)
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            start = time.monotonic()
            response = await client.post("/api/v1/check", json={"sender_id": "nobody"})
            assert response.status == 200
            assert (await response.json())["allowed"] is False
            assert time.monotonic() - start < 1.0
    await runtime.close()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    assert settings.redis_url and settings.database_url
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAASP_REDIS_URL": settings.redis_url,
        "WAASP_DATABASE_URL": settings.database_url,
        "WAASP_KEY_PREFIX": settings.key_prefix,
        "WAASP_API_TOKEN": TOKEN,
        "WAASP_NOTIFY_RETRY_DELAY": "0.05",
        "WAASP_LOG_FORMAT": "json",
        **extra,
    }


async def _wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"{url} not ready in {timeout}s"
            await asyncio.sleep(0.2)


def _spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A worker process on every WAASP queue, as split mode runs it."""
    command = ["-m", "waasp.runtime", "worker", "-A", "waasp.tasks:runtime", "-Q"]
    return subprocess.Popen(
        [sys.executable, *command, ",".join(QUEUES), "-c", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.mark.slow
async def test_blocked_check_posts_one_notification_in_split_mode(
    bg_settings: Settings, hook: WebhookReceiver
) -> None:
    """waasp serve + a separate worker process: a blocked check gives one POST within 2 s."""
    env = _env(bg_settings, WAASP_NOTIFY_WEBHOOK_URL=hook.url)
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "waasp", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = _spawn_worker(env)
    try:
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(url, 20)
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(1.0)  # the worker's group exists before the first task
            async with session.post(f"{url}/api/v1/check", json={"sender_id": "split"}) as r:
                assert r.status == 200
        assert await hook.wait_for(1, 2.0) < 2.0
        await asyncio.sleep(0.3)
        assert len(hook.delivered) == 1
    finally:
        _stop_process(serve)
        _stop_process(worker)


@pytest.mark.slow
async def test_every_check_is_audited_once_while_a_worker_is_killed(
    bg_settings: Settings, pg: asyncpg.Connection
) -> None:
    """N checks of one sender give exactly N audit rows, with a worker SIGKILLed midway."""
    env = _env(bg_settings)
    worker = _spawn_worker(env)
    runtime = WaaspRuntime(bg_settings)
    app = _api(bg_settings, runtime)
    n = 60
    try:
        async with TestClient(TestServer(app)) as client:
            for i in range(n):
                if i == n // 2:
                    worker.kill()
                response = await client.post("/api/v1/check", json={"sender_id": "flood"})
                assert response.status == 200
    finally:
        _stop_process(worker)
        await runtime.close()
    count = await pg.fetchval(
        "SELECT count(*) FROM audit_logs WHERE sender_id = 'flood' AND action = 'blocked'"
    )
    assert count == n


async def _insert_audit(
    pg: asyncpg.Connection, rows: Sequence[tuple[str, str | None, dt.datetime]]
) -> None:
    await pg.executemany(
        "INSERT INTO audit_logs (action, sender_id, channel, created_at) VALUES ($1, 'x', $2, $3)",
        rows,
    )


async def test_cleanup_deletes_exactly_the_rows_older_than_the_cutoff_in_batches(
    bg_settings: Settings, pg: asyncpg.Connection
) -> None:
    """cleanup_old_audit_logs removes only rows past the horizon, batch by batch."""
    now = dt.datetime.now(dt.UTC)
    old = [("allowed", None, now - dt.timedelta(days=91, minutes=i)) for i in range(25)]
    young = [("allowed", None, now - dt.timedelta(days=89, minutes=i)) for i in range(7)]
    await _insert_audit(pg, old + young)
    runtime = WaaspRuntime(bg_settings)
    try:
        result = await runtime.cleanup_old_audit_logs(90, batch_size=10)
    finally:
        await runtime.context.close()
        await runtime.close()
    assert result["deleted"] == 25
    assert result["batches"] == 3
    remaining = await pg.fetchval("SELECT count(*) FROM audit_logs")
    oldest = await pg.fetchval("SELECT min(created_at) FROM audit_logs")
    assert remaining == 7
    assert oldest > now - dt.timedelta(days=90)


async def test_hourly_aggregation_is_idempotent(
    bg_settings: Settings, pg: asyncpg.Connection
) -> None:
    """Rolling up one hour twice gives the same counts per action and channel."""
    hour = dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC)
    rows: list[tuple[str, str | None, dt.datetime]] = [
        ("blocked", "whatsapp", hour + dt.timedelta(minutes=m)) for m in range(5)
    ]
    rows += [("allowed", None, hour + dt.timedelta(minutes=m)) for m in range(3)]
    rows += [("allowed", None, hour + dt.timedelta(hours=1, minutes=1))]  # next hour
    await _insert_audit(pg, rows)
    runtime = WaaspRuntime(bg_settings)
    try:
        first = await runtime.aggregate_audit_stats("hourly", hour=hour.isoformat())
        second = await runtime.aggregate_audit_stats("hourly", hour=hour.isoformat())
    finally:
        await runtime.context.close()
        await runtime.close()
    assert first == second
    stored = await pg.fetch("SELECT action, channel, count FROM audit_stats_hourly ORDER BY action")
    assert [tuple(r) for r in stored] == [("allowed", None, 3), ("blocked", "whatsapp", 5)]


async def test_stats_endpoint_serves_the_rollups(
    bg_settings: Settings, pg: asyncpg.Connection
) -> None:
    """/api/v1/audit/stats returns the hourly rows the aggregation wrote."""
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(
        hours=1
    )
    await _insert_audit(pg, [("blocked", "sms", hour + dt.timedelta(minutes=1))])
    runtime = WaaspRuntime(bg_settings)
    try:
        await runtime.aggregate_audit_stats("hourly", hour=hour.isoformat())
    finally:
        await runtime.context.close()
        await runtime.close()
    async with TestClient(TestServer(create_app(bg_settings))) as client:
        response = await client.get("/api/v1/audit/stats", headers=AUTH)
        body = await response.json()
    assert {"action": "blocked", "channel": "sms", "count": 1}.items() <= body["hourly"][0].items()
