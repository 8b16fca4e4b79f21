"""Security checks: every admin route demands the token, no answer leaks a traceback or a
database or Redis error, the dashboard and DLQ actions need the token, and task messages
cannot aim the webhooks anywhere but where the operator configured."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from tests.integration.app.conftest import (
    AUTH,
    TOKEN,
    Client,
    ClientFactory,
    create_database,
    drop_database,
)
from tests.integration.app.hooks import WebhookReceiver
from waasp.api.keys import SERVICE
from waasp.api.routes import ROUTES
from waasp.runtime import FAILURE, PENDING, SUCCESS, Worker
from waasp.settings import Settings
from waasp.tasks import QUEUES, WaaspRuntime

PUBLIC = {
    "/api/v1/check",
    "/api/v1/check/{sender_id}",
    "/api/v1/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/dashboard/{name}",  # the page's script and style sheet: code, no data
}
DEAD_DATABASE = "postgresql://postgres@127.0.0.1:9/nowhere"
DEAD_REDIS = "redis://127.0.0.1:9/0"
# What must never reach a client: tracebacks, driver and server error texts, addresses.
LEAKS = re.compile(
    r"Traceback \(most recent|File \"|asyncpg|psycopg|SQLSTATE|syntax error|relation \""
    r"|character varying|Errno|Connect call failed|Connection refused|127\.0\.0\.1"
    r"|redis\.exceptions|Error \d+",
    re.IGNORECASE,
)


def concrete(path: str) -> str:
    """A route template with its parameters filled in."""
    return re.sub(r"\{[^}]+\}", "someone", path)


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the route table that is not public."""
    return [
        (method, path)
        for path, methods in ROUTES.items()
        if path not in PUBLIC
        for method in methods
    ]


async def route_exists(app: web.Application, method: str, path: str) -> bool:
    """Tell whether the app routes ``method path`` to a handler."""
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    return match.http_exception is None


async def assert_no_leak(resp: Any) -> None:
    """The body names nothing internal."""
    text = await resp.text()
    assert not LEAKS.search(text), f"{resp.status} leaks: {text[:500]}"


@pytest.mark.parametrize(("method", "path"), admin_routes())
async def test_every_admin_route_in_the_table_demands_the_token(
    client: Client, method: str, path: str
) -> None:
    """Each route of the table not on the public list is 401 without a token and 403 with a
    wrong one (a route added later without the guard fails here)."""
    url = concrete(path)
    assert (await client.request(method, url)).status == 401
    wrong = {"Authorization": f"Bearer {secrets.token_hex(16)}"}
    assert (await client.request(method, url, headers=wrong)).status == 403


async def test_dashboard_needs_the_token(client: Client) -> None:
    """GET /dashboard without a token, or with a wrong header or cookie, does not show the
    page (401/403, or a redirect to a login); with the token it does."""
    if not await route_exists(client.app, "GET", "/dashboard"):
        pytest.skip("no /dashboard route yet: it lands with the dashboard branch")
    refused = {401, 403, 302, 303, 307}
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Cookie": "waasp_token=wrong"},
    ):
        resp = await client.get("/dashboard", headers=headers, allow_redirects=False)
        assert resp.status in refused, (headers, resp.status)
        await assert_no_leak(resp)
    resp = await client.get("/dashboard", headers=AUTH, allow_redirects=False)
    assert resp.status not in refused


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/dlq/default:1-0/replay"), ("DELETE", "/api/v1/dlq/default:1-0")],
)
async def test_dlq_actions_need_the_token(client: Client, method: str, path: str) -> None:
    """Replaying or deleting a dead letter is 401 without a token, 403 with a wrong one."""
    if not await route_exists(client.app, method, path):
        pytest.skip(f"no {method} {path} route yet: it lands with the DLQ API branch")
    assert (await client.request(method, path)).status == 401
    resp = await client.request(method, path, headers={"Authorization": "Bearer wrong"})
    assert resp.status == 403


async def test_unreachable_database_leaks_nothing(make_client: ClientFactory) -> None:
    """With PostgreSQL unreachable, every route answers without the driver's words, the
    address or a traceback."""
    client = await make_client(database_url=DEAD_DATABASE)
    for path, methods in ROUTES.items():
        for method in methods:
            resp = await client.request(
                method, concrete(path), json={"sender_id": "someone"}, headers=AUTH
            )
            assert resp.status < 500 or resp.status == 503
            await assert_no_leak(resp)


async def test_missing_schema_leaks_no_sql_error(
    make_client: ClientFactory, database_url: str
) -> None:
    """A database that was never migrated answers 503 without PostgreSQL's error text."""
    name = f"waasp_empty_{secrets.token_hex(5)}"
    url = await create_database(database_url, name)
    try:
        client = await make_client(database_url=url)
        for method, path in (("POST", "/api/v1/check"), ("GET", "/api/v1/contacts")):
            resp = await client.request(method, path, json={"sender_id": "x"}, headers=AUTH)
            assert resp.status == 503
            await assert_no_leak(resp)
        resp = await client.get("/readyz")
        assert resp.status == 503
        await assert_no_leak(resp)
    finally:
        await client.close()
        await drop_database(database_url, name)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError('Traceback (most recent call last): File "x.py", SELECT secret FROM t'),
        asyncpg.DataError('value too long for type character varying(500) in relation "t"'),
        asyncpg.SyntaxOrAccessError('syntax error at or near "DROP"'),
    ],
    ids=["unexpected", "data-error", "sql-error"],
)
async def test_errors_inside_the_service_leak_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """An exception escaping the service (a bug, a value PostgreSQL refused, a SQL error) is
    answered with a bare message and the request id, never its text."""

    async def boom(*_args: object) -> None:
        raise error

    monkeypatch.setattr(client.app[SERVICE], "check", boom)
    resp = await client.post("/api/v1/check", json={"sender_id": "someone"})
    assert resp.status in (400, 500)
    await assert_no_leak(resp)
    body = await resp.json()
    assert body["error"] in ("invalid value", "internal server error")


async def test_unreachable_redis_leaks_nothing(
    make_client: ClientFactory, settings: Settings
) -> None:
    """With the broker unreachable a blocked check still answers 200, and /readyz says the
    broker is unavailable without Redis's error text or its address."""
    runtime = WaaspRuntime(replace(settings, redis_url=DEAD_REDIS))
    try:
        client = await make_client(runtime=runtime, notify=runtime.notify_blocked_sender)
        resp = await client.post("/api/v1/check", json={"sender_id": "stranger"})
        assert resp.status == 200 and (await resp.json())["allowed"] is False
        await assert_no_leak(resp)
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["details"]["checks"]["redis"] == "unavailable"
        await assert_no_leak(resp)
    finally:
        await runtime.close()


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[WebhookReceiver, WebhookReceiver]]:
    """The operator's webhook and an attacker's."""
    configured, elsewhere = await WebhookReceiver().start(), await WebhookReceiver().start()
    yield configured, elsewhere
    await configured.stop()
    await elsewhere.stop()


async def test_task_messages_cannot_redirect_the_webhook(
    settings: Settings, redis_url: str, hooks: tuple[WebhookReceiver, WebhookReceiver]
) -> None:
    """Messages in the stream that name another URL (in notify_deliver's payload, as an extra
    argument, or as send_webhook's URL) never make a worker POST anywhere but the
    configured WAASP_NOTIFY_WEBHOOK_URL."""
    configured, elsewhere = hooks
    rt = WaaspRuntime(
        replace(
            settings,
            redis_url=redis_url,
            key_prefix=f"t{secrets.token_hex(5)}",
            notify_webhook_url=configured.url,
        )
    )
    try:
        sent = [
            await rt.send_task(
                "waasp.tasks.notify_deliver", ({"text": "hi", "url": elsewhere.url},)
            ),
            await rt.send_task(
                "waasp.tasks.notify_deliver", ({"text": "x"},), {"url": elsewhere.url}
            ),
            await rt.send_task("waasp.tasks.send_webhook", (elsewhere.url, {"text": "ssrf"})),
            await rt.send_task("waasp.tasks.send_webhook", (configured.url, {"text": "ok"})),
        ]
        worker = Worker(rt, list(QUEUES), 2, burst=True, shutdown_timeout=5)
        await asyncio.wait_for(worker.run(), 30)
        states = [await result.state() for result in sent]
        letters = await rt.dlq.list()
    finally:
        keys = [k async for k in rt.broker.client.scan_iter(match=f"{rt.conf.key_prefix}:*")]
        if keys:
            await rt.broker.client.delete(*keys)
        await rt.close()
    assert elsewhere.attempts == 0, elsewhere.delivered
    assert [body["text"] for body in configured.delivered] == ["hi", "ok"]
    # notify_deliver stores no result when it succeeds (ignore_result): PENDING, not SUCCESS.
    assert states == [PENDING, FAILURE, FAILURE, SUCCESS]
    assert sorted(x.reason for x in letters) == [
        "failed",
        "rejected: the URL is not WAASP_NOTIFY_WEBHOOK_URL",
    ]
    assert TOKEN not in str(configured.delivered)
