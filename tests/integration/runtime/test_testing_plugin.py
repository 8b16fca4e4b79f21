"""The runtime's pytest plugin (``waasp.runtime.testing``): its fixtures used directly, as
this suite enables it, and in a project of its own (pytester), whose keys it cleans up."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest

from tests.integration.runtime.conftest import ROOT
from waasp.runtime import SUCCESS, Runtime, Task, Worker
from waasp.runtime.app import default_result_url
from waasp.runtime.broker.client import connect
from waasp.runtime.testing import _embedded_valkey, run_worker, running_worker


async def _keys(url: str, prefix: str) -> list[bytes]:
    client = connect(url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    finally:
        await client.aclose()


async def test_burst_worker_runs_what_was_sent(runtime_app: Runtime) -> None:
    """``run_worker`` runs the queued tasks in this event loop and returns when idle."""

    @runtime_app.task
    async def double(x: int) -> int:
        return 2 * x

    results = [await double.delay(i) for i in range(5)]
    worker = await run_worker(runtime_app)
    assert worker.counts[SUCCESS.value] == 5
    assert [await r.get(timeout=10) for r in results] == [0, 2, 4, 6, 8]


async def test_running_worker_serves_a_block(runtime_app: Runtime) -> None:
    """``running_worker`` serves tasks sent inside its block, retries included."""

    @runtime_app.task(bind=True, default_retry_delay=0.01)
    async def second_try(self: Task) -> int:
        if self.request.retries == 0:
            raise self.retry()
        return self.request.retries

    async with running_worker(runtime_app, concurrency=1) as worker:
        assert await (await second_try.delay()).get(timeout=20) == 1
    assert worker.counts[SUCCESS.value] == 1


async def test_runtime_worker_fixture(runtime_app: Runtime, runtime_worker: Worker) -> None:
    """The ``runtime_worker`` fixture runs a worker on ``runtime_app`` for the test."""

    @runtime_app.task
    def upper(text: str) -> str:
        return text.upper()

    assert await (await upper.delay("ok")).get(timeout=20) == "OK"
    assert runtime_worker.queues == [runtime_app.conf.task_default_queue]


async def test_embedded_valkey_serves_the_runtime() -> None:
    """Without a Redis to use, the plugin starts an embedded Valkey that a runtime can use."""
    with _embedded_valkey() as url:
        runtime = Runtime("waasp", broker_url=url, environ={})
        try:
            await runtime.ping()
        finally:
            await runtime.close()


def test_plugin_in_a_project_of_its_own(
    pytester: pytest.Pytester, runtime_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project that enables the plugin (pytest-asyncio in strict mode) and hands it its
    app's runtime sends a task, runs a burst worker, and afterwards finds none of its test's
    keys left on the server and its runtime's configuration restored."""
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest

            from innerapp import app

            pytest_plugins = ["waasp.runtime.testing"]


            @pytest.fixture
            def runtime_instance():
                return app
            """
        )
    )
    record = pytester.path / "prefix.txt"
    pytester.makepyfile(
        innerapp=textwrap.dedent(
            """
            from waasp.runtime import Runtime

            app = Runtime("inner", broker_url="redis://127.0.0.1:1/0", environ={})


            @app.task
            async def add(x: int, y: int) -> int:
                return x + y
            """
        ),
        test_app=textwrap.dedent(
            f"""
            from pathlib import Path

            import pytest

            from innerapp import add, app
            from waasp.runtime.testing import run_worker


            @pytest.mark.asyncio
            async def test_app(runtime_app, runtime_key_prefix):
                assert runtime_app is app and app.conf.key_prefix == runtime_key_prefix
                result = await add.delay(2, 3)
                await run_worker(runtime_app)
                assert await result.get(timeout=10) == 5
                assert await app.broker.client.keys(f"{{runtime_key_prefix}}:*"), "keys to clean"
                Path({str(record)!r}).write_text(runtime_key_prefix)


            def test_restored():
                assert app.conf.broker_url == "redis://127.0.0.1:1/0"
                assert app.conf.key_prefix == "waasp"
            """
        ),
    )
    monkeypatch.setenv("WAASP_TEST_REDIS_URL", runtime_redis_url)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    outcome.assert_outcomes(passed=2)
    prefix = Path(record).read_text()
    assert prefix
    for url in (runtime_redis_url, default_result_url(runtime_redis_url)):
        assert asyncio.run(_keys(url, prefix)) == [], f"keys of {prefix} left on {url}"
