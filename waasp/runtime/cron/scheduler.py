"""The cron scheduler: each tick of each ``beat_schedule`` entry enqueued exactly once.

Run as many schedulers as you like, anywhere. Each reads "now" from the Redis server
(``TIME``), works out the latest due tick of every entry, and offers it to
``lua/fire_tick.lua``, which enqueues it only if it is later than the entry's last fired
tick. Whichever scheduler comes first fires; the others learn it was done. A dead scheduler
leaves nothing half-done, and a skewed local clock changes nothing, since the local clock
only measures how long to sleep.

An entry never fired before (or whose last tick expired) starts from the moment this
scheduler started: ticks before that are not back-filled. Once an entry has a last fired
tick, ticks missed while no scheduler ran are caught up once (the latest of them), or
skipped, per the entry's ``misfire`` option. Each scheduler also remembers the latest tick it
has read or offered, so a lost key (evicted, deleted, Redis restarted without its data)
makes none that saw the tick fire it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from waasp.runtime.app import Runtime
from waasp.runtime.broker import ANY_REDIS_ERROR, Outages
from waasp.runtime.cron.entries import Due, Entry, due, parse_entries
from waasp.runtime.cron.schedules import from_ms, to_ms
from waasp.runtime.errors import ConfigurationError, TaskRuntimeError
from waasp.runtime.hooks import send_publish
from waasp.runtime.message import encode_message
from waasp.runtime.signals import after_task_publish, before_task_publish

log = structlog.get_logger("waasp.runtime.cron.scheduler")

# The longest nap between looks at the server's clock: a tick hours away is still fired
# by the server's time, not by a local clock that may drift from it (or a failover to a
# server whose clock differs) over a long sleep.
MAX_SLEEP = 1.0
# The last-fired-tick key outlives several periods, and at least a week, so a scheduler
# outage shorter than that is still caught up.
MIN_TICK_TTL = timedelta(days=7)
TTL_PERIODS = 3
# Task ids are uuid5(namespace, "<prefix>:<entry>:<tick ms>"): one tick, one id.
TICK_NAMESPACE = uuid.UUID("5f0c6f44-6c1e-4d55-9a55-0d8e7f1c2b3a")


def tick_task_id(prefix: str, entry: str, tick: datetime) -> str:
    """The deterministic task id of an entry's tick."""
    return str(uuid.uuid5(TICK_NAMESPACE, f"{prefix}:{entry}:{to_ms(tick)}"))


def tick_ttl_ms(entry: Entry, tick: datetime) -> int:
    """How long the last fired tick is kept: max(7 days, 3 periods)."""
    period = entry.schedule.next_after(tick) - tick
    return max(MIN_TICK_TTL, TTL_PERIODS * period) // timedelta(milliseconds=1)


def prepare_entries(
    runtime: Runtime, spec: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Entry], dict[str, str]]:
    """Validate the entries and route each to its queue (name -> queue)."""
    entries = parse_entries(spec, runtime.conf.timezone)
    queues: dict[str, str] = {}
    for entry in entries:
        # Routed and encoded once up front, so a bad queue or arguments that JSON cannot
        # carry fail at start, naming the entry, not at 03:00.
        try:
            message = runtime.build_message(
                entry.task, entry.args, entry.kwargs, queue=entry.queue, expires=entry.expires
            )
            encode_message(message)
        except TaskRuntimeError as exc:
            raise ConfigurationError(f"beat_schedule[{entry.name!r}]: {exc}") from None
        queues[entry.name] = message.queue
    return entries, queues


async def read_ticks(
    runtime: Runtime, entries: list[Entry], queues: Mapping[str, str]
) -> tuple[int, dict[str, int]]:
    """The server time (ms) and each entry's last fired tick (ms), in one round trip."""
    return await runtime.broker.ticks.read([(e.name, queues[e.name]) for e in entries])


class Scheduler:
    """Enqueues ``runtime.conf.beat_schedule`` (or ``entries``) on time until ``stop()``.

    ``clock`` is a local monotonic clock, used only to time the sleep until the next tick.
    """

    def __init__(
        self,
        runtime: Runtime,
        entries: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        self.runtime = runtime
        self._spec = entries
        self._clock = clock
        self._max_sleep = max_sleep
        self._stop = asyncio.Event()
        self._entries: list[Entry] = []
        self._queues: dict[str, str] = {}
        self._loaded = False
        self._since: int | None = None  # server ms of this scheduler's first look
        self._handled: dict[str, int] = {}  # latest tick (ms) this scheduler saw handled
        self.fired = 0

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()

    async def run(self) -> None:
        """Fire due ticks until ``stop()``; ride out Redis outages."""
        if not self._loaded:
            self.load()
        log.info("scheduler_started", entries=[e.name for e in self._entries])
        outages = Outages((self._reconnect,), component="scheduler")
        guard = outages.guard("scheduler")
        registered = not self._queues  # nothing to announce for an empty schedule
        while not self._stop.is_set():
            try:
                if not registered:
                    await self.runtime.broker.register_queues(set(self._queues.values()))
                    registered = True
                sleep = await self.run_pass()
            except ANY_REDIS_ERROR as exc:
                # A refusal waiting cannot cure (a programming error) raises RedisRefused.
                await guard.failed(exc)
                continue
            guard.worked()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sleep):
                    await self._stop.wait()
        log.info("scheduler_stopped", fired=self.fired)

    async def _reconnect(self) -> None:
        # Looked up at each call: the runtime's client may have been replaced since start.
        await self.runtime.broker.reconnect()

    def load(self) -> None:
        """Read and validate the entries (``run`` does it; call it to fail early)."""
        spec = self.runtime.conf.beat_schedule if self._spec is None else self._spec
        self._entries, self._queues = prepare_entries(self.runtime, spec)
        self._loaded = True

    async def run_pass(self) -> float:
        """Fire what is due now; return the seconds to sleep before the next pass."""
        if not self._loaded:
            self.load()
        now_ms, stored = await read_ticks(self.runtime, self._entries, self._queues)
        offset = now_ms / 1000 - self._clock()
        if self._since is None:
            self._since = now_ms
        now = from_ms(now_ms)
        wake = now + timedelta(seconds=self._max_sleep)
        for entry in self._entries:
            self._fold(entry.name, stored.get(entry.name))
            after = from_ms(self._handled.get(entry.name, self._since))
            decision = due(entry, after, now)
            if decision is not None:
                await self._handle(entry, decision)
            wake = min(wake, entry.schedule.next_after(now))
        remaining = wake.timestamp() - (self._clock() + offset)
        # 1 ms past the tick, so the next pass sees it due on the server's clock
        return min(self._max_sleep, max(remaining + 0.001, 0.001))

    def _fold(self, name: str, stored: int | None) -> None:
        # Every stored tick this scheduler reads raises its own high-water mark, not only the
        # ticks it offered itself: when the key is lost (evicted, deleted, Redis restarted
        # without its data) a scheduler that only saw another one fire must not fire it again.
        if stored is not None and stored > self._handled.get(name, -1):
            self._handled[name] = stored

    async def _handle(self, entry: Entry, decision: Due) -> None:
        bound = log.bind(entry=entry.name, tick=decision.tick.isoformat())
        if not decision.fire:
            bound.info("tick_skipped", late=decision.late, caught_up=decision.caught_up)
            self._handled[entry.name] = to_ms(decision.tick)
            return
        task_id = tick_task_id(self.runtime.conf.key_prefix, entry.name, decision.tick)
        fired = await self._fire(entry, decision.tick, task_id)
        # only once the script answered: a tick whose call failed is offered again
        self._handled[entry.name] = to_ms(decision.tick)
        if fired:
            self.fired += 1
            bound.info("tick_fired", task_id=task_id, task=entry.task, caught_up=decision.caught_up)
        else:
            bound.debug("tick_taken", task_id=task_id)

    async def _fire(self, entry: Entry, tick: datetime, task_id: str) -> bool:
        """Offer the tick to ``fire_tick.lua``; True if this call enqueued it."""
        queue = self._queues[entry.name]
        message = self.runtime.build_message(
            entry.task,
            entry.args,
            entry.kwargs,
            queue=queue,
            task_id=task_id,
            headers={"scheduled_for": tick.isoformat(), "beat_entry": entry.name},
            expires=entry.expires,
        )
        if before_task_publish.receivers:
            await send_publish(before_task_publish, message)
        fired = await self.runtime.broker.ticks.fire(
            entry.name, queue, to_ms(tick), message, tick_ttl_ms(entry, tick)
        )
        if after_task_publish.receivers:
            await send_publish(after_task_publish, message)
        return fired


async def schedule_status(runtime: Runtime) -> list[dict[str, Any]]:
    """Each beat entry with its schedule, queue, next run and last fired tick (ISO, UTC)."""
    entries, queues = prepare_entries(runtime, runtime.conf.beat_schedule)
    now_ms, stored = await read_ticks(runtime, entries, queues)
    now = from_ms(now_ms)
    out: list[dict[str, Any]] = []
    for entry in entries:
        last = stored.get(entry.name)
        out.append(
            {
                "name": entry.name,
                "task": entry.task,
                "schedule": entry.schedule.describe(),
                "queue": queues[entry.name],
                "next_run": entry.schedule.next_after(now).isoformat(),
                "last_run": None if last is None else from_ms(last).isoformat(),
            }
        )
    return out
