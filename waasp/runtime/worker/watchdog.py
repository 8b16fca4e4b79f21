"""A thread beside the event loop: it renews the leases of what the worker holds (entries,
and the concurrency slots of their running tasks), on a Redis connection of its own, and
reports a blocked event loop, naming the task that blocks it.

A sync call inside an ``async def`` task stops the event loop. Renewals made on the loop
would stop with it, and past the visibility timeout another worker would claim the entry and
run it a second time; from this thread they go on, so a live worker keeps what it holds
however long its loop is blocked (guarantee 2). The same holds for a sync task whose thread
outlives the shutdown timeout: its entry stays held and renewed until the thread ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping

import structlog

from waasp.runtime.broker import REDIS_ERRORS, GroupMissing, LeaseRenewals
from waasp.runtime.worker.heartbeat import LoopClock
from waasp.runtime.worker.inflight import Inflight

log = structlog.get_logger("waasp.runtime.worker.watchdog")

# A loop that has not come round for this long is blocked: said once, with the culprit.
BLOCKED_AFTER_S = 1.0
WATCH_EVERY_S = 0.25


class Watchdog:
    """Renews held leases every quarter of the visibility timeout, and watches the loop."""

    def __init__(
        self,
        renewals: LeaseRenewals,
        consumer: str,
        inflight: Inflight,
        visibility_timeout: float,
        clock: LoopClock,
        culprit: Callable[[], Mapping[str, str]],
        slots: Callable[[], Mapping[str, list[str]]] = dict,
    ) -> None:
        self.renewals = renewals
        self.consumer = consumer
        self.inflight = inflight
        self.interval = max(visibility_timeout / 4, 0.02)
        self.lease_ms = int(visibility_timeout * 1000)
        self.slots = slots  # the concurrency leases held, per task (admission.py)
        self.clock = clock
        self.culprit = culprit  # what the loop runs now (read while it is blocked)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="waasp-watchdog", daemon=True)
        self._failing = False
        self._blocked_for = 0.0
        self._blocker: Mapping[str, str] = {}

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    async def stop(self) -> None:
        """Stop renewing (the worker has settled or handed back what it held)."""
        self._stop.set()
        if self._thread.is_alive():
            # A renewal in flight ends within the client's socket timeout.
            await asyncio.to_thread(self._thread.join)
        self.renewals.close()

    def _run(self) -> None:
        due = 0.0
        while not self._stop.wait(min(WATCH_EVERY_S, self.interval)):
            self.watch()
            if time.monotonic() >= due:
                due = time.monotonic() + (self.interval if self.renew() else 0.5)

    def renew(self) -> bool:
        """Renew every held entry once; False if Redis failed (said once per outage)."""
        try:
            for (queue, priority), ids in self.inflight.ids_by_lane().items():
                lost = self.renewals.renew(queue, self.consumer, ids, priority)
                lane = (queue, priority)
                lost = [entry_id for entry_id in lost if self.inflight.holds(lane, entry_id)]
                if lost:
                    # Another worker claimed them while this one was silent: both may run them.
                    log.warning("leases_lost", queue=queue, priority=priority, entry_ids=lost)
            for task, members in self.slots().items():
                self.renewals.renew_slots(task, self.lease_ms, members)
        except REDIS_ERRORS as exc:
            return self._failed(exc)
        except GroupMissing as exc:
            # Redis restarted without its data: what this worker held went with it.
            return self._failed(exc)
        except Exception:
            # The thread must outlive any reply it did not expect: the next round tries again.
            log.exception("lease_renewal_failed")
            self._failing = True
            return False
        if self._failing:
            log.info("lease_renewal_recovered")
            self._failing = False
        return True

    def _failed(self, exc: BaseException) -> bool:
        if not self._failing:
            log.warning("lease_renewal_failed", error=str(exc))
        self._failing = True
        return False

    def watch(self) -> None:
        """Say when the event loop is blocked (once, naming what runs), and when it is not."""
        age = self.clock.age()
        if age >= BLOCKED_AFTER_S:
            if not self._blocked_for:
                self._blocker = self.culprit()
                log.error("event_loop_blocked", blocked_s=round(age, 1), **self._blocker)
            self._blocked_for = age
        elif self._blocked_for:
            log.warning(
                "event_loop_unblocked", blocked_s=round(self._blocked_for, 1), **self._blocker
            )
            self._blocked_for = 0.0
