"""Paused queues: workers stop reading them and resume; the pause lives in Redis; the CLI."""

from __future__ import annotations

import asyncio
import json

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    run_cli,
    runs,
    stream_state,
    wait_until,
)
from waasp.runtime import PENDING, Runtime, Worker


async def test_a_paused_queue_waits_and_resume_runs_it(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """Tasks of a paused queue stay waiting (a delayed one that falls due waits in the stream
    too), even for a worker started after the pause; resuming runs them all."""
    assert await runtime.control.pause("default") is True
    assert await runtime.control.pause("default") is False
    assert await runtime.control.paused() == ["default"]
    sent = [await apps.add.delay(i, 1) for i in range(5)]
    delayed = await apps.add.apply_async((10, 1), countdown=0.3)
    worker = workers.start()

    async def promoted() -> bool:
        delayed_left = await runtime.broker.client.zcard(runtime.keys.queue("default").delayed)
        return delayed_left == 0 and (await stream_state(runtime))[0] == 6

    await wait_until(promoted, timeout=30)  # the worker's promoter ran: the worker is up
    assert "worker_started" in worker.output()
    assert await runs(runtime, "add") == 0
    assert await delayed.state() == PENDING
    assert await runtime.control.resume("default") is True
    assert await runtime.control.resume("default") is False
    assert [await r.get(timeout=30) for r in sent] == [1, 2, 3, 4, 5]
    assert await delayed.get(timeout=30) == 11


async def test_a_running_worker_stops_reading_a_paused_queue(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """A worker that is serving a queue stops once it is paused and goes on after resume;
    another queue of the same worker is served meanwhile."""
    worker = workers.start(queues="default,high")
    assert await (await apps.add.delay(1, 1)).get(timeout=30) == 2
    await runtime.control.pause("default")

    async def seen() -> bool:
        return "queues_paused_changed" in worker.output()

    await wait_until(seen, timeout=30)
    waiting = await apps.add.delay(2, 2)
    assert await (await apps.urgent_ping.delay("x")).get(timeout=30) == "x"
    assert await waiting.state() == PENDING
    await runtime.control.resume("default")
    assert await waiting.get(timeout=30) == 4


async def test_cli_pauses_and_resumes(runtime: Runtime, cli_env: dict[str, str]) -> None:
    """``control pause|resume QUEUE`` changes the paused set and says so; a bad queue name
    is one line on stderr and exit 1."""
    done = run_cli(cli_env, "control", "pause", "default")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "queue default paused"
    assert await runtime.control.paused() == ["default"]
    again = run_cli(cli_env, "control", "pause", "default", "--json")
    assert json.loads(again.stdout) == {"queue": "default", "paused": True, "changed": False}
    resumed = run_cli(cli_env, "control", "resume", "default")
    assert resumed.stdout.strip() == "queue default resumed"
    assert await runtime.control.paused() == []
    bad = run_cli(cli_env, "control", "pause", "no such queue")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: invalid queue name")
    assert "Traceback" not in bad.stderr


async def test_what_a_worker_prefetched_is_handed_back_when_its_queue_pauses(
    runtime: Runtime,
) -> None:
    """Tasks a worker had already read into its buffer do not start once it has seen the
    pause: they go back to the stream (nothing held), and run after resume."""
    slow = await apps.sleepy.delay("first", 4.0)  # the pause is seen while it runs
    waiting = [await apps.add.delay(i, 0) for i in range(3)]
    worker = Worker(runtime, ["default"], 1, prefetch_multiplier=4)
    running = asyncio.create_task(worker.run())
    try:

        async def all_read() -> bool:
            return worker.inflight.count == 4

        await wait_until(all_read, timeout=15)
        await runtime.control.pause("default")

        async def seen() -> bool:
            return "default" in worker.pauses.paused

        await wait_until(seen, timeout=15)
        await slow.get(timeout=15)

        async def handed_back() -> bool:
            return worker.inflight.count == 0 and (await stream_state(runtime))[1] == 0

        await wait_until(handed_back, timeout=15)
        assert await runs(runtime, "add") == 0
        assert (await stream_state(runtime))[0] == 3
        await runtime.control.resume("default")
        assert [await r.get(timeout=15) for r in waiting] == [0, 1, 2]
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=30)
