"""The cron scheduler against a real Redis: exactly-once ticks across schedulers and crashes."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from tests.integration.runtime.schedulers import (
    APP,
    ROOT,
    SECOND,
    TASK,
    Schedulers,
    assert_each_tick_once_consecutive,
    fired,
    server_now,
    wait_for_ticks,
)
from waasp.runtime import Runtime, Worker
from waasp.runtime.cron.scheduler import Scheduler, schedule_status, tick_task_id
from waasp.runtime.cron.schedules import to_ms

EVERY_SECOND = {
    "every-second": {
        "task": TASK,
        "schedule": 1,
        "args": ("beat",),
        "kwargs": {},
        "options": {"queue": "beat"},
    }
}


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix, so this test shares nothing with any other."""
    return f"test-sched-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def runtime(redis_url: str, prefix: str) -> AsyncIterator[Runtime]:
    """A Runtime on the test Redis under the fresh prefix; its keys are deleted afterwards."""
    rt = Runtime("waasp", broker_url=redis_url, key_prefix=prefix)
    yield rt
    for client in (rt.broker.client, rt.results.client):
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    await rt.close()


@pytest.fixture
def schedulers(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Schedulers]:
    """A factory of scheduler processes, all stopped at teardown."""
    group = Schedulers(redis_url, prefix, tmp_path)
    yield group
    for proc in group.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


async def run_for(scheduler: Scheduler, seconds: float) -> None:
    """Run a scheduler in this event loop for a while, then stop it."""
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    scheduler.stop()
    await asyncio.wait_for(task, 5)


# -- the atomic step --------------------------------------------------------------------


async def test_fire_tick_script_is_exactly_once_and_monotonic(runtime: Runtime) -> None:
    """fire_tick enqueues a tick once, never an older one, and sets a TTL on the tick key."""
    q = runtime.keys.queue("beat")
    message = runtime.build_message("tests.tick", queue="beat")

    async def offer(tick: int) -> bool:
        return await runtime.broker.ticks.fire("e", "beat", tick, message, 60_000)

    offers = [await offer(t) for t in (1000, 1000, 500, 2000, 1999)]
    assert offers == [True, False, False, True, False]
    assert await runtime.broker.client.xlen(q.stream) == 2
    assert int(await runtime.broker.client.get(q.cron("e"))) == 2000
    assert 0 < await runtime.broker.client.pttl(q.cron("e")) <= 60_000


# -- one scheduler, in process ----------------------------------------------------------


async def test_ticks_reach_the_task_with_their_scheduled_time(runtime: Runtime) -> None:
    """Each second is enqueued once with a deterministic id; the task sees scheduled_for."""

    @runtime.task(bind=True, name=TASK)
    def tick(self: Any, label: str) -> list[Any]:
        return [label, self.request.scheduled_for, self.request.headers.get("beat_entry")]

    scheduler = Scheduler(runtime, EVERY_SECOND)
    await run_for(scheduler, 3.5)
    ticks = await fired(runtime)
    assert 2 <= len(ticks) <= 4
    assert_each_tick_once_consecutive(ticks)
    for f in ticks:
        assert f.tick.microsecond == 0
        assert f.task_id == tick_task_id(runtime.conf.key_prefix, "every-second", f.tick)
        assert 0 <= f.enqueued_ms - to_ms(f.tick) < 1000  # right after its tick
    await Worker(runtime, ["beat"], 2, burst=True).run()
    for f in ticks:
        result = await runtime.AsyncResult(f.task_id).get(timeout=5)
        assert result == ["beat", f.tick.isoformat(), "every-second"]


async def test_first_run_does_not_backfill_the_past(runtime: Runtime) -> None:
    """An entry never fired before waits for its next tick: nothing is enqueued for the past."""
    runtime.conf.update(
        beat_schedule={
            "daily": {"task": TASK, "schedule": "0 3 * * *", "options": {"queue": "beat"}}
        }
    )
    scheduler = Scheduler(runtime)
    assert await scheduler.run_pass() <= 1.0
    assert await fired(runtime) == []
    [status] = await schedule_status(runtime)
    assert status["last_run"] is None


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, 1), ({"misfire": "catch_up"}, 1), ({"misfire": "skip", "misfire_grace": 0}, 0)],
)
async def test_missed_ticks_are_caught_up_once_or_skipped(
    runtime: Runtime, options: dict[str, Any], expected: int
) -> None:
    """Three missed hourly ticks: catch_up enqueues the latest once; skip enqueues none."""
    now = await server_now(runtime)
    hour = now.replace(minute=0, second=0, microsecond=0)
    q = runtime.keys.queue("beat")
    await runtime.broker.client.set(q.cron("hourly"), to_ms(hour - timedelta(hours=3)))
    entries = {"hourly": {"task": TASK, "schedule": 3600, "options": {"queue": "beat", **options}}}
    with capture_logs() as logs:
        scheduler = Scheduler(runtime, entries)
        await scheduler.run_pass()
        await scheduler.run_pass()
    ticks = await fired(runtime)
    assert len(ticks) == expected
    events = [e for e in logs if e["event"] in {"tick_fired", "tick_skipped"}]
    assert len(events) == 1  # a skipped tick is reported once, not every pass
    assert events[0]["tick"] == hour.isoformat()
    assert events[0]["caught_up"] is True
    if expected:
        assert ticks[0].tick == hour
        assert events[0]["event"] == "tick_fired"
    else:
        assert events[0]["event"] == "tick_skipped"


async def test_skewed_local_clocks_change_nothing(redis_url: str, runtime: Runtime) -> None:
    """Schedulers whose local clocks are 1 h behind, right and 1 h ahead fire each tick once."""
    prefix = runtime.conf.key_prefix
    runtimes = [Runtime("waasp", broker_url=redis_url, key_prefix=prefix) for _ in range(3)]

    def skewed(offset: float) -> Callable[[], float]:
        return lambda: time.monotonic() + offset

    group = [
        Scheduler(rt, EVERY_SECOND, clock=skewed(skew))
        for rt, skew in zip(runtimes, (-3600.0, 0.0, 3600.0), strict=True)
    ]
    start = await server_now(runtime)
    await asyncio.gather(*(run_for(s, 4.2) for s in group))
    end = await server_now(runtime)
    for rt in runtimes:
        await rt.close()
    ticks = await fired(runtime)
    assert_each_tick_once_consecutive(ticks)
    assert abs(len(ticks) - (end - start).total_seconds()) <= 1
    assert sum(s.fired for s in group) == len(ticks)


async def test_scheduler_rides_out_unreachable_redis_and_stops() -> None:
    """With Redis unreachable the loop logs and retries instead of crashing; stop() ends it."""
    rt = Runtime("waasp", broker_url="redis://127.0.0.1:1/0", key_prefix="unreachable")
    scheduler = Scheduler(rt, EVERY_SECOND)
    with capture_logs() as logs:
        await run_for(scheduler, 0.5)
    await rt.close()
    assert any(e["event"] == "redis_unavailable" for e in logs)
    assert logs[-1]["event"] == "scheduler_stopped"


async def test_empty_schedule_idles_quietly_until_stopped(runtime: Runtime) -> None:
    """With no entries the scheduler just waits: no errors, no keys, a prompt stop."""
    with capture_logs() as logs:
        await run_for(Scheduler(runtime, {}), 1.5)
    assert [e["event"] for e in logs] == ["scheduler_started", "scheduler_stopped"]
    assert [
        k async for k in runtime.broker.client.scan_iter(match=f"{runtime.conf.key_prefix}:*")
    ] == []


# -- the command line -------------------------------------------------------------------


def run_cli(
    redis_url: str, prefix: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waasp.runtime", *args, "-A", APP],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WAASP_REDIS_URL": redis_url,
            "WAASP_KEY_PREFIX": prefix,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def test_inspect_schedule_shows_next_and_last_run(redis_url: str, runtime: Runtime) -> None:
    """`inspect schedule --json` lists each entry with its schedule, queue, next and last run."""
    last = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    await runtime.broker.client.set(runtime.keys.queue("beat").cron("every-second"), to_ms(last))
    # The CLI reads the clock somewhere between these two instants (it takes a second or
    # more to start), so its next run is after the first and at most a second after the second.
    before = await server_now(runtime)
    done = run_cli(redis_url, runtime.conf.key_prefix, "inspect", "schedule", "--json")
    after = await server_now(runtime)
    assert done.returncode == 0, done.stderr
    [entry] = orjson.loads(done.stdout)["schedule"]
    assert entry["name"] == "every-second"
    assert entry["task"] == TASK
    assert entry["schedule"] == "every 1s"
    assert entry["queue"] == "beat"
    assert entry["last_run"] == last.isoformat()
    assert before < datetime.fromisoformat(entry["next_run"]) <= after + 2 * SECOND
    text = run_cli(redis_url, runtime.conf.key_prefix, "inspect", "schedule")
    assert "every-second" in text.stdout
    assert "next_run" in text.stdout


def test_bad_beat_schedule_is_one_line_error(redis_url: str, prefix: str) -> None:
    """A scheduler with an invalid entry exits 1 with one line naming it, no traceback."""
    done = run_cli(redis_url, prefix, "scheduler", SCHED_TEST_INTERVAL="0")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: beat_schedule['every-second']")
    assert "Traceback" not in done.stderr


# -- several scheduler processes --------------------------------------------------------


async def assert_one_tick_per_second(
    runtime: Runtime, schedulers: Schedulers, seconds: float
) -> None:
    """Once ticking, let the schedulers run ``seconds``: each second enqueued once."""
    await wait_for_ticks(runtime, 1)
    start = await server_now(runtime)
    await asyncio.sleep(seconds)
    end = await server_now(runtime)
    schedulers.stop_all()
    ticks = await fired(runtime)
    assert_each_tick_once_consecutive(ticks)
    window = [f for f in ticks if start < f.tick <= end]
    assert abs(len(window) - (end - start).total_seconds()) <= 1


@pytest.mark.slow
async def test_three_schedulers_enqueue_each_tick_exactly_once(
    runtime: Runtime, schedulers: Schedulers
) -> None:
    """Three scheduler processes for 8 s: one enqueue per second, never two of one tick."""
    for _ in range(3):
        schedulers.start()
    await assert_one_tick_per_second(runtime, schedulers, 8)


@pytest.mark.slow
async def test_sigkilling_two_of_three_schedulers_leaves_no_gap(
    runtime: Runtime, schedulers: Schedulers
) -> None:
    """SIGKILL two of three schedulers mid-run: the third keeps every tick, no gap over 2 s."""
    procs = [schedulers.start() for _ in range(3)]
    await wait_for_ticks(runtime, 1)
    await asyncio.sleep(2.5)
    killed_at = await server_now(runtime)
    for proc in procs[:2]:
        schedulers.stop(proc, signal.SIGKILL)
    await asyncio.sleep(4)
    schedulers.stop(procs[2])
    ticks = await fired(runtime)
    assert_each_tick_once_consecutive(ticks)
    assert len([f for f in ticks if f.tick > killed_at]) >= 3
    enqueued = [f.enqueued_ms for f in ticks]
    assert max(b - a for a, b in itertools.pairwise(enqueued)) <= 2000


@pytest.mark.slow
async def test_restart_after_outage_catches_up_once_not_per_missed_tick(
    runtime: Runtime, schedulers: Schedulers
) -> None:
    """All schedulers down for 6 s, one restarted: one catch-up run, then every tick again."""
    first = [schedulers.start() for _ in range(2)]
    await wait_for_ticks(runtime, 2)
    for proc in first:
        schedulers.stop(proc, signal.SIGKILL)
    before = await fired(runtime)
    last = before[-1].tick
    await asyncio.sleep(6)
    restarted = schedulers.start()
    await wait_for_ticks(runtime, len(before) + 1)
    await asyncio.sleep(2.5)
    schedulers.stop(restarted)
    ticks = await fired(runtime)
    after = ticks[len(before) :]
    assert [f.tick for f in ticks[: len(before)]] == [f.tick for f in before]
    assert after[0].tick - last >= 5 * SECOND  # nothing fired for the outage but the catch-up
    assert_each_tick_once_consecutive(after)  # then one per second again
    caught_up = [
        e for e in schedulers.log_of(restarted) if e["event"] == "tick_fired" and e["caught_up"]
    ]
    assert len(caught_up) == 1
    assert caught_up[0]["tick"] == after[0].tick.isoformat()


@pytest.mark.slow
async def test_schedulers_on_hosts_with_skewed_wall_clocks(
    runtime: Runtime, schedulers: Schedulers
) -> None:
    """Scheduler processes whose wall clocks are 1 h behind and ahead neither skip nor double."""
    for skew in ("-3600", "0", "3600"):
        schedulers.start(SCHED_TEST_CLOCK_SKEW=skew)
    await assert_one_tick_per_second(runtime, schedulers, 5)
