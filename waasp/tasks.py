"""WAASP's background work on ``waasp.runtime``: the spec's tasks, routes and schedule.

``python -m waasp.runtime worker -A waasp.tasks:runtime`` runs them; ``build(settings)`` makes
an independent set (tests, ``waasp up``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from waasp import notify_cap
from waasp.db.pool import Database
from waasp.db.repositories import maintenance
from waasp.notify import (
    BlockFolder,
    Fold,
    WebhookFailed,
    blocked_message,
    post_json,
)
from waasp.runtime import Runtime, Task, crontab
from waasp.settings import Settings

log = structlog.get_logger("waasp.tasks")

CLEANUP_BATCH = 5000
ROUTES = {
    "waasp.tasks.notify_*": {"queue": "high"},
    "waasp.tasks.cleanup_*": {"queue": "low"},
    "*": {"queue": "default"},
}
QUEUES = ("high", "default", "low")


@dataclass
class TaskContext:
    """What the tasks of one worker share: settings, a PostgreSQL pool, an HTTP session.

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


def _retry_countdown(settings: Settings, retries: int) -> float:
    # The spec's exponential backoff: 60 s, 120 s, 240 s with the default base.
    return float(settings.notify_retry_delay * 2**retries)


@dataclass
class WaaspTasks:
    """A Runtime with WAASP's tasks registered on it."""

    runtime: Runtime
    context: TaskContext
    notify_blocked_sender: Task
    notify_blocked_followup: Task
    notify_deliver: Task
    send_webhook: Task
    cleanup_old_audit_logs: Task
    aggregate_audit_stats: Task


def build(settings: Settings, runtime: Runtime | None = None) -> WaaspTasks:
    """Register WAASP's tasks on ``runtime`` (default: a new ``Runtime("waasp")``)."""
    rt = runtime or Runtime(
        "waasp",
        broker_url=settings.redis_url,
        result_url=settings.result_url,
        key_prefix=settings.key_prefix,
    )
    _configure(rt, settings)
    ctx = TaskContext(settings)
    rt.on_shutdown(ctx.close)
    deliver, blocked, followup, webhook = _notification_tasks(rt, ctx, settings)
    cleanup, aggregate = _maintenance_tasks(rt, ctx, settings)
    return WaaspTasks(rt, ctx, blocked, followup, deliver, webhook, cleanup, aggregate)


def _configure(rt: Runtime, settings: Settings) -> None:
    rt.conf.update(
        task_track_started=True,
        result_expires=3600,
        task_default_retry_delay=60,
        task_max_retries=3,
        broker_visibility_timeout=settings.visibility_timeout,
        task_routes=ROUTES,
        beat_schedule={
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
        },
    )


def _notification_tasks(
    rt: Runtime, ctx: TaskContext, settings: Settings
) -> tuple[Task, Task, Task, Task]:
    folder = BlockFolder(rt.broker.client, rt.conf.key_prefix, settings.notify_window)

    @rt.task(
        name="waasp.tasks.notify_deliver",
        bind=True,
        max_retries=settings.notify_max_retries,
        ignore_result=True,
    )
    async def notify_deliver(self: Task, payload: dict[str, Any]) -> str:
        """POST one notification to WAASP_NOTIFY_WEBHOOK_URL (or log it), with backoff."""
        url = settings.notify_webhook_url
        if url is None:
            log.info("blocked_sender_notified", via="log", text=payload.get("text"))
            return "logged"
        try:
            await post_json(ctx.http(), url, payload)
        except WebhookFailed as exc:
            raise self.retry(
                exc=exc, countdown=_retry_countdown(settings, self.request.retries)
            ) from exc
        log.info("blocked_sender_notified", via="webhook", text=payload.get("text"))
        return "posted"

    cap = notify_cap.install(rt, settings, notify_deliver)

    @rt.task(name="waasp.tasks.notify_blocked_sender", ignore_result=True)
    async def notify_blocked_sender(sender_id: str, channel: str | None = None) -> str:
        """Tell the admin a sender was blocked, folding a burst into one follow-up."""
        decision = await folder.decide(sender_id, channel)
        if decision.fold is Fold.NOTIFY:
            await cap.deliver(blocked_message(sender_id, channel))
        elif decision.fold is Fold.FOLLOW_UP:
            await followup.apply_async((sender_id, channel), countdown=decision.window_left)
        return decision.fold.value

    @rt.task(name="waasp.tasks.notify_blocked_followup", ignore_result=True)
    async def followup(sender_id: str, channel: str | None = None) -> int:
        """Report, in one message, the blocks folded during a window."""
        count = await folder.take_folded(sender_id, channel)
        if count:
            await cap.deliver(blocked_message(sender_id, channel, count))
        return count

    @rt.task(name="waasp.tasks.send_webhook", bind=True, max_retries=3)
    async def send_webhook(self: Task, url: str, payload: dict[str, Any]) -> int:
        """POST a JSON payload to the configured webhook; network errors, 429 and 5xx retry
        with backoff, other 4xx fail; any other URL is dead-lettered unsent."""
        # The URL comes from the message, and whoever can write to Redis can write a message:
        # posting only to the URL the operator configured keeps workers from being aimed at
        # internal services (SSRF).
        if settings.notify_webhook_url is None or url != settings.notify_webhook_url:
            raise self.send_to_dlq("the URL is not WAASP_NOTIFY_WEBHOOK_URL")
        try:
            return await post_json(ctx.http(), url, payload)
        except WebhookFailed as exc:
            raise self.retry(
                exc=exc, countdown=_retry_countdown(settings, self.request.retries)
            ) from exc

    return notify_deliver, notify_blocked_sender, followup, send_webhook


def _maintenance_tasks(rt: Runtime, ctx: TaskContext, settings: Settings) -> tuple[Task, Task]:
    @rt.task(name="waasp.tasks.cleanup_old_audit_logs")
    async def cleanup_old_audit_logs(
        days: int = settings.audit_retention_days, batch_size: int = CLEANUP_BATCH
    ) -> dict[str, Any]:
        """Delete audit rows older than ``days``, ``batch_size`` rows per statement."""
        if int(days) < 1:
            raise ValueError("days must be >= 1")
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(days))
        database = await ctx.database()
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

    @rt.task(name="waasp.tasks.aggregate_audit_stats", bind=True)
    async def aggregate_audit_stats(
        self: Task, period: str = "hourly", hour: str | None = None
    ) -> dict[str, Any]:
        """Roll the audit rows of one hour (default: the hour before the tick) into
        ``audit_stats_hourly``; idempotent for the same hour."""
        if period != "hourly":
            raise ValueError(f"unknown period {period!r} (only 'hourly')")
        start = _hour_to_roll(hour, self.request.scheduled_for)
        database = await ctx.database()
        async with database.connection() as conn:
            rows = await maintenance.rollup_hour(conn, start)
        log.info("audit_stats_aggregated", hour=start.isoformat(), rows=rows)
        return {"hour": start.isoformat(), "rows": rows}

    return cleanup_old_audit_logs, aggregate_audit_stats


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


_default = build(Settings.from_env())
runtime = _default.runtime
notify_blocked_sender = _default.notify_blocked_sender
send_webhook = _default.send_webhook
cleanup_old_audit_logs = _default.cleanup_old_audit_logs
aggregate_audit_stats = _default.aggregate_audit_stats
