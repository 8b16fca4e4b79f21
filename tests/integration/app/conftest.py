"""Fixtures of the API/domain integration tests: a private, migrated database per session."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from tests.proxy import ToggleProxy
from waasp.api import create_app
from waasp.api.metrics import Metrics
from waasp.api.server import MAX_FIELD_SIZE, MAX_HEADERS, MAX_LINE_SIZE, start_server
from waasp.db.migrate import migrate
from waasp.runtime import Runtime, Task
from waasp.service import BlockedSenderNotifier
from waasp.settings import Settings

TOKEN = "test-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


def database_url_for(maintenance_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``maintenance_url``."""
    return str(URL(maintenance_url).with_path("/" + name))


async def create_database(maintenance_url: str, name: str) -> str:
    """Create an empty database beside the maintenance one; return its URL."""
    conn = await asyncpg.connect(maintenance_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_for(maintenance_url, name)


async def drop_database(maintenance_url: str, name: str) -> None:
    """Drop a database, disconnecting whoever is still on it."""
    conn = await asyncpg.connect(maintenance_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def app_database_url(database_url: str) -> Iterator[str]:
    """A database of our own for this test session, migrated, dropped at the end."""
    name = f"waasp_test_{secrets.token_hex(6)}"
    url = asyncio.run(create_database(database_url, name))
    asyncio.run(migrate(url))
    yield url
    asyncio.run(drop_database(database_url, name))


@pytest.fixture
async def pg(app_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, for setting up and inspecting rows."""
    conn = await asyncpg.connect(app_database_url)
    yield conn
    await conn.close()


@pytest.fixture(autouse=True)
async def _clean_tables(app_database_url: str) -> None:
    """Start every test with empty tables."""
    conn = await asyncpg.connect(app_database_url)
    try:
        await conn.execute(
            "TRUNCATE contacts, audit_logs, audit_stats_hourly RESTART IDENTITY CASCADE"
        )
    finally:
        await conn.close()


@pytest.fixture
def settings(app_database_url: str) -> Settings:
    """Settings pointing at the test database, with a known token. The per-address check rate
    is raised out of the way: every test client shares 127.0.0.1 (test_rate_limits.py sets
    its own)."""
    return Settings(
        database_url=app_database_url,
        api_token=TOKEN,
        log_format="json",
        check_rate=100_000.0,
        check_burst=100_000,
    )


async def open_client(app: web.Application) -> Client:
    """Serve ``app`` on a free port with the production HTTP limits; the caller closes it."""
    server = TestServer(app)
    # Started here, not by the client, so it gets the production HTTP limits.
    await server.start_server(
        max_line_size=MAX_LINE_SIZE, max_field_size=MAX_FIELD_SIZE, max_headers=MAX_HEADERS
    )
    client = TestClient(server)
    await client.start_server()
    return client


def make_app(
    settings: Settings,
    notifier: BlockedSenderNotifier | None = None,
    *,
    runtime: Runtime | None = None,
    notify: Task | None = None,
    metrics: Metrics | None = None,
    **overrides: Any,
) -> web.Application:
    """create_app over ``settings`` with ``overrides`` applied to them."""
    app_settings = Settings(**{**_as_dict(settings), **overrides})
    return create_app(
        app_settings, runtime=runtime, notify=notify, notifier=notifier, metrics=metrics
    )


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[ClientFactory]:
    """Build test clients over create_app with chosen options; all closed at teardown."""
    clients: list[Client] = []

    async def factory(*args: Any, **options: Any) -> Client:
        client = await open_client(make_app(settings, *args, **options))
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@dataclass(frozen=True)
class Served:
    """An app served the way `waasp serve` serves it, on a free loopback port."""

    app: web.Application
    url: str
    port: int


ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(settings: Settings) -> AsyncIterator[ServeFactory]:
    """Serve create_app with chosen options through waasp.api.server (guarded connections,
    the settings' HTTP limits) on 127.0.0.1; every server is stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def factory(*args: Any, **options: Any) -> Served:
        app = make_app(settings, *args, **options)
        runner, url = await start_server(app, "127.0.0.1", 0)
        runners.append(runner)
        return Served(app, url, int(URL(url).port or 0))

    yield factory
    for runner in runners:
        await runner.cleanup()


def _as_dict(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


@pytest.fixture
async def client(make_client: ClientFactory) -> Client:
    """A test client over the default application."""
    return await make_client()


@contextlib.asynccontextmanager
async def proxy_to(url: str, default_port: int) -> AsyncIterator[ToggleProxy]:
    """A started ToggleProxy to the server of ``url``; thawed and stopped afterwards."""
    parsed = URL(url)
    proxy = ToggleProxy(parsed.host or "127.0.0.1", parsed.port or default_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        proxy.thaw()
        await proxy.stop()


@pytest.fixture
async def pg_proxy(app_database_url: str) -> AsyncIterator[ToggleProxy]:
    """A started ToggleProxy to the test PostgreSQL server."""
    async with proxy_to(app_database_url, 5432) as proxy:
        yield proxy


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[ToggleProxy]:
    """A started ToggleProxy to the test Redis server."""
    async with proxy_to(redis_url, 6379) as proxy:
        yield proxy


def proxied_url(url: str, proxy: ToggleProxy) -> str:
    """``url`` (the test database's, or Redis's), reached through ``proxy``."""
    return str(URL(url).with_host("127.0.0.1").with_port(proxy.port))


async def delete_prefix(runtime: Runtime) -> None:
    """Delete every key of the runtime's prefix, on the broker and on the result backend."""
    prefix = runtime.conf.key_prefix
    for client in (runtime.broker.client, runtime.results.client):
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)


@pytest.fixture
async def runtime(redis_url: str) -> AsyncIterator[Runtime]:
    """A task runtime on the test Redis under a fresh key prefix, cleaned up afterwards."""
    prefix = f"test{secrets.token_hex(5)}"
    rt = Runtime("waasp", broker_url=redis_url, key_prefix=prefix, environ={})
    rt.conf.update(task_track_started=True)
    yield rt
    await delete_prefix(rt)
    await rt.close()


@pytest.fixture
async def monitor_client(make_client: ClientFactory, runtime: Runtime) -> Client:
    """A test client over an app that monitors ``runtime``."""
    return await make_client(runtime=runtime)
