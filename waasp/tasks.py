"""WAASP's background work on ``waasp.runtime``: the spec's tasks, their routes and schedule.

The tasks are the functions below, named after their module and function
(``waasp.tasks.notify_blocked_sender``). ``WaaspRuntime(settings)`` registers them on a
runtime of its own, which carries what they share (``context``). A process has one of
them: ``waasp.tasks.runtime``, built on first use from the environment (``python -m
waasp.runtime worker -A waasp.tasks:runtime``; the URLs of a running ``waasp up`` where the
environment sets none), or by ``configure(settings)`` once ``waasp up``
or ``waasp serve`` has resolved its settings. Importing this module builds nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from waasp.db.pool import Database
from waasp.db.repositories import maintenance
from waasp.errors import SettingsError
from waasp.instance import environ_with_instance
from waasp.notify import BlockFolder, Fold, WebhookFailed, blocked_message, post_json
from waasp.notify_cap import NOTIFY_EXPIRES, NotificationCap, send_summary
from waasp.runtime import ConfigurationError, Runtime, Task, crontab
from waasp.settings import Settings

log = structlog.get_logger("waasp.tasks")

CLEANUP_BATCH = 5000
# Expiries (docs/runtime.md, "Revoke and expiry"): a delivery of a notification may retry
# with backoff for up to an hour; a webhook delivery is worth making for six.
DELIVER_EXPIRES = 60 * 60.0
WEBHOOK_EXPIRES = 6 * 60 * 60.0
ROUTES = {
    "waasp.tasks.notify_*": {"queue": "high"},
    "waasp.tasks.cleanup_*": {"queue": "low"},
    "*": {"queue": "default"},
}
QUEUES = ("high", "default", "low")


@dataclass
class TaskContext:
    """What the tasks of one runtime share: settings, a PostgreSQL pool, an HTTP session.

    Both connect lazily, so a worker starts while PostgreSQL is down and its tasks retry.
    """

    settings: Settings
    _database: Database | None = field(default=None, init=False)
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    async def database(self) -> Database:
        """The pool, opened on first use."""
        if self._database is None:
            if self.settings.database_url is None:
                raise RuntimeError("WAASP_DATABASE_URL is not set for the worker")
            database = Database(self.settings.database_url, max_size=4)
            await database.open()
            self._database = database
        return self._database

    def http(self) -> aiohttp.ClientSession:
        """The HTTP client session, created on first use."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        """Release the pool and the session."""
        if self._http is not None:
            await self._http.close()
        if self._database is not None:
            await self._database.close()
        self._http = self._database = None


class WaaspRuntime(Runtime):
    """A Runtime configured from WAASP's settings, with WAASP's tasks registered on it.

    Its attributes named after the tasks are their handles (``runtime.send_webhook.delay``).
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__("waasp", environ={})
        self.conf = settings.runtime_config()  # the settings have read the environment once
        self.conf.update(
            task_track_started=True,
            result_expires=3600,
            task_default_retry_delay=60,
            task_max_retries=3,
            task_routes=ROUTES,
            beat_schedule=_schedule(settings),
        )
        self.context = TaskContext(settings)
        self.on_shutdown(self.context.close)
        retries = settings.notify_max_retries
        # Nobody reads a notification's result: storing none keeps a flood out of Redis.
        quiet = {"bind": True, "ignore_result": True}
        self.notify_blocked_sender = self.task(**quiet, expires=NOTIFY_EXPIRES)(
            notify_blocked_sender
        )
        self.notify_blocked_followup = self.task(**quiet)(notify_blocked_followup)
        # The receiver's limit, held across every worker: each webhook-posting task waits
        # its turn in the delay set, never in a worker.
        rate = settings.webhook_rate_limit
        self.notify_deliver = self.task(
            **quiet, max_retries=retries, expires=DELIVER_EXPIRES, rate_limit=rate
        )(notify_deliver)
        self.notify_summary = self.task(**quiet)(notify_summary)
        self.send_webhook = self.task(
            bind=True, max_retries=3, expires=WEBHOOK_EXPIRES, rate_limit=rate
        )(send_webhook)
        self.cleanup_old_audit_logs = self.task(bind=True)(cleanup_old_audit_logs)
        self.aggregate_audit_stats = self.task(bind=True)(aggregate_audit_stats)

    def block_folder(self) -> BlockFolder:
        """The fold of blocked-sender notifications, over a window shared by every worker."""
        return BlockFolder(self.windows("notify", self.context.settings.notify_window))

    def notification_cap(self) -> NotificationCap:
        """The global cap on notifications, over token buckets shared by every worker."""
        settings = self.context.settings
        return NotificationCap(
            self.rate_limiter(),
            settings.notify_global_max,
            settings.notify_window,
            self.notify_deliver,
            self.notify_summary,
        )


def _schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "cleanup-old-audit-logs": {
            "task": "waasp.tasks.cleanup_old_audit_logs",
            "schedule": crontab(hour=3, minute=0),
            "args": (settings.audit_retention_days,),
        },
        "aggregate-hourly-stats": {
            "task": "waasp.tasks.aggregate_audit_stats",
            "schedule": crontab(minute=0),
            "args": ("hourly",),
        },
    }


def configure(settings: Settings) -> WaaspRuntime:
    """Build this process's runtime from ``settings``; it is ``waasp.tasks.runtime`` from then
    on. Raises RuntimeError if the process has one already."""
    if "runtime" in globals():
        raise RuntimeError("waasp.tasks.runtime is already built in this process")
    built = globals()["runtime"] = WaaspRuntime(settings)
    return built


if TYPE_CHECKING:
    runtime: WaaspRuntime
else:

    def __getattr__(name: str) -> WaaspRuntime:
        # PEP 562: ``runtime`` is built when first asked for, not when the module is imported.
        if name != "runtime":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            # With its URLs unset, a worker joins the ``waasp up`` running on the data dir.
            settings = Settings.from_env(environ_with_instance(os.environ))
        except SettingsError as exc:
            # What the runtime's command line reports as one line, like its own settings.
            raise ConfigurationError(str(exc)) from None
        return configure(settings)


def _runtime(task: Task) -> WaaspRuntime:
    runtime = task.runtime
    if not isinstance(runtime, WaaspRuntime):
        raise TypeError(f"{task.name} runs only on a WaaspRuntime")
    return runtime


def _retry_countdown(settings: Settings, retries: int) -> float:
    # The spec's exponential backoff: 60 s, 120 s, 240 s with the default base.
    return float(settings.notify_retry_delay * 2**retries)


async def notify_blocked_sender(self: Task, sender_id: str, channel: str | None = None) -> str:
    """Tell the admin a sender was blocked, folding a burst into one follow-up."""
    rt = _runtime(self)
    decision = await rt.block_folder().decide(sender_id, channel)
    if decision.fold is Fold.NOTIFY:
        await rt.notification_cap().deliver(blocked_message(sender_id, channel))
    elif decision.fold is Fold.FOLLOW_UP:
        await rt.notify_blocked_followup.apply_async(
            (sender_id, channel),
            countdown=decision.window_left,
            expires=decision.window_left + NOTIFY_EXPIRES,
        )
    return decision.fold.value


async def notify_blocked_followup(self: Task, sender_id: str, channel: str | None = None) -> int:
    """Report, in one message, the blocks folded during a window."""
    rt = _runtime(self)
    count = await rt.block_folder().take_folded(sender_id, channel)
    if count:
        await rt.notification_cap().deliver(blocked_message(sender_id, channel, count))
    return count


async def notify_summary(self: Task) -> int:
    """Report, in one message, the notifications the global cap held back since the last
    summary."""
    rt = _runtime(self)
    settings = rt.context.settings
    return await send_summary(rt.rate_limiter(), rt.notify_deliver, settings.notify_window)


async def notify_deliver(self: Task, payload: dict[str, Any]) -> str:
    """POST one notification to WAASP_NOTIFY_WEBHOOK_URL (or log it), with backoff."""
    context = _runtime(self).context
    url = context.settings.notify_webhook_url
    if url is None:
        log.info("blocked_sender_notified", via="log", text=payload.get("text"))
        return "logged"
    try:
        await post_json(context.http(), url, payload)
    except WebhookFailed as exc:
        countdown = _retry_countdown(context.settings, self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
    log.info("blocked_sender_notified", via="webhook", text=payload.get("text"))
    return "posted"


async def send_webhook(self: Task, url: str, payload: dict[str, Any]) -> int:
    """POST a JSON payload to the configured webhook; network errors, 429 and 5xx retry
    with backoff, other 4xx fail; any other URL is dead-lettered unsent."""
    context = _runtime(self).context
    # The URL comes from the message, and whoever can write to Redis can write a message:
    # posting only to the URL the operator configured keeps workers from being aimed at
    # internal services (SSRF).
    if context.settings.notify_webhook_url is None or url != context.settings.notify_webhook_url:
        raise self.send_to_dlq("the URL is not WAASP_NOTIFY_WEBHOOK_URL")
    try:
        return await post_json(context.http(), url, payload)
    except WebhookFailed as exc:
        countdown = _retry_countdown(context.settings, self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc


async def cleanup_old_audit_logs(
    self: Task, days: int | None = None, batch_size: int = CLEANUP_BATCH
) -> dict[str, Any]:
    """Delete audit rows older than ``days`` (default WAASP_AUDIT_RETENTION_DAYS),
    ``batch_size`` rows per statement."""
    context = _runtime(self).context
    days = context.settings.audit_retention_days if days is None else int(days)
    if days < 1:
        raise ValueError("days must be >= 1")
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    database = await context.database()
    deleted = batches = 0
    while True:
        async with database.connection() as conn:
            batch = await maintenance.delete_batch_older_than(conn, cutoff, batch_size)
        deleted += batch
        batches += 1
        if batch < batch_size:
            break
    log.info("audit_logs_cleaned", deleted=deleted, cutoff=cutoff.isoformat())
    return {"deleted": deleted, "cutoff": cutoff.isoformat(), "batches": batches}


async def aggregate_audit_stats(
    self: Task, period: str = "hourly", hour: str | None = None
) -> dict[str, Any]:
    """Roll the audit rows of one hour (default: the hour before the tick) into
    ``audit_stats_hourly``; idempotent for the same hour."""
    if period != "hourly":
        raise ValueError(f"unknown period {period!r} (only 'hourly')")
    start = _hour_to_roll(hour, self.request.scheduled_for)
    database = await _runtime(self).context.database()
    async with database.connection() as conn:
        rows = await maintenance.rollup_hour(conn, start)
    log.info("audit_stats_aggregated", hour=start.isoformat(), rows=rows)
    return {"hour": start.isoformat(), "rows": rows}


def _hour_to_roll(hour: str | None, scheduled_for: str | None) -> dt.datetime:
    if hour is not None:
        start = dt.datetime.fromisoformat(hour)
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    else:
        tick = (
            dt.datetime.fromisoformat(scheduled_for) if scheduled_for else dt.datetime.now(dt.UTC)
        )
        start = tick.astimezone(dt.UTC) - dt.timedelta(hours=1)
    return start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
