"""Counters a worker process keeps in memory and publishes to Redis off the task's path.

Every system's task body calls ``done()`` (or ``late()``) and nothing else, so the work a
task does is the same everywhere and no system pays a Redis round trip per task for being
measured. A daemon thread per process publishes the figures every 20 ms:

- ``{BENCH_PROBE_KEY}`` hash, field = pid, value = "count first last" (epoch seconds of the
  first task's start and the last task's end in that process);
- ``{BENCH_PROBE_KEY}:late`` list of lateness values in seconds.

Only stdlib and redis-py: it runs in both the main and the redis<6 virtualenv.
"""

from __future__ import annotations

import os
import threading
import time

import redis

PUBLISH_EVERY = 0.02


class _Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.late: list[float] = []

    def ensure_started(self) -> None:
        # Checked on every call: a forked child inherits the parent's state but not its thread.
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.count, self.first, self.last, self.late = 0, 0.0, 0.0, []
            threading.Thread(target=self.publish_forever, name="bench-probe", daemon=True).start()

    def publish_forever(self) -> None:
        key = os.environ["BENCH_PROBE_KEY"]
        url = os.environ.get("BENCH_PROBE_URL") or os.environ["BENCH_REDIS_URL"]
        client = redis.Redis.from_url(url)
        seen = -1
        while True:
            time.sleep(PUBLISH_EVERY)
            with self.lock:
                count, first, last = self.count, self.first, self.last
                late, self.late = self.late, []
            if count != seen:
                client.hset(key, str(self.pid), f"{count} {first} {last}")
                seen = count
            if late:
                client.rpush(f"{key}:late", *late)


_probe = _Probe()


def done() -> None:
    """Count one finished no-op task."""
    _probe.ensure_started()
    now = time.time()
    with _probe.lock:
        if not _probe.first:
            _probe.first = now
        _probe.count += 1
        _probe.last = now


def started() -> None:
    """Note a task's start (so ``first`` is a start time, not an end time)."""
    _probe.ensure_started()
    with _probe.lock:
        _probe.first = _probe.first or time.time()


def late(sent_at: float, due_at: float | None = None) -> None:
    """Record how late this task started against its enqueue (or due) time, and count it."""
    lateness = time.time() - (due_at if due_at is not None else sent_at)
    _probe.ensure_started()
    with _probe.lock:
        _probe.late.append(lateness)
    done()
