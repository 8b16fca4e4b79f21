"""Fixtures of the workflow and progress tests: their app bound to the test Redis, and an
in-process worker on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.integration.runtime import flow_app
from tests.integration.runtime.conftest import bound_runtime
from waasp.runtime import Runtime, Worker


@pytest.fixture
async def rt(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """The workflow test app, bound to the test Redis under a fresh prefix."""
    async with bound_runtime(flow_app.runtime, redis_url, key_prefix) as runtime:
        yield runtime


@pytest.fixture
async def worker(rt: Runtime) -> AsyncIterator[Worker]:
    """An in-process worker on the default queue for the test's duration."""
    running = Worker(rt, ["default"], 4)
    task = asyncio.create_task(running.run())
    yield running
    running.stop()
    await asyncio.wait_for(task, 30)
