"""Fixtures of the fault suite: chaos workers on a private redis-server, the execution ledger
on the session's server, and the figures each scenario publishes."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.faults import chaos_app
from tests.integration.runtime.conftest import (
    ROOT,
    WorkerFactory,
    bound_runtime,
    key_prefix,
    worker_env,
)
from tests.servers import PrivateRedis
from waasp.runtime import Runtime

__all__ = ["key_prefix"]  # the runtime suite's fixture, shared: a fresh prefix, keys deleted after

CHAOS_APP = "tests.faults.chaos_app:runtime"
FIGURES = ROOT / "test-artifacts" / "faults.json"
VISIBILITY_TIMEOUT = 2.0

Record = Callable[..., None]
FAILED = pytest.StashKey[bool]()


def chaos_workers(
    broker_url: str, prefix: str, ledger_url: str, tmp: Path, visibility_timeout: float
) -> WorkerFactory:
    """A factory of chaos-app worker processes on ``broker_url``."""
    env = worker_env(broker_url, prefix, visibility_timeout)
    env["WAASP_TEST_LEDGER_URL"] = ledger_url
    return WorkerFactory(env, tmp, app=CHAOS_APP)


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the ledger server (the session's Redis, which no fault touches)."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[Record]:
    """Publish a scenario's figures: printed, and merged into test-artifacts/faults.json."""
    started = time.monotonic()
    figures: dict[str, Any] = {}

    def add(**values: Any) -> None:
        figures.update(values)

    yield add
    if not figures:
        return
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["recorded_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    figures["passed"] = not request.node.stash.get(FAILED, False)
    FIGURES.parent.mkdir(exist_ok=True)
    everything = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    everything[request.node.name] = figures
    FIGURES.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    print(f"\nfault figures {request.node.name}: {json.dumps(figures)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether a scenario's call failed, so its figures say so."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@dataclass
class Scene:
    """One scenario's stage: a private broker under a fresh key prefix, the ledger, and a
    factory of chaos workers on that broker (all reaped after the test)."""

    server: PrivateRedis
    key_prefix: str
    ledger: Redis
    tmp: Path
    workers: WorkerFactory

    def runtime(self) -> AbstractAsyncContextManager[Runtime]:
        """The chaos app bound to the private broker."""
        return bound_runtime(chaos_app.runtime, self.server.url, self.key_prefix)


@pytest.fixture
def scene(
    private_redis: PrivateRedis, key_prefix: str, ledger: Redis, redis_url: str, tmp_path: Path
) -> Iterator[Scene]:
    """A private broker, chaos workers on it, and the ledger on the session's server."""
    factory = chaos_workers(private_redis.url, key_prefix, redis_url, tmp_path, VISIBILITY_TIMEOUT)
    try:
        yield Scene(private_redis, key_prefix, ledger, tmp_path, factory)
    finally:
        factory.reap()
