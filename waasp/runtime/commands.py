"""The command-line subcommands' bodies (``cli.py`` parses, these act)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from waasp.runtime.app import Runtime
from waasp.runtime.cli import emit, install_stop_handlers
from waasp.runtime.errors import TaskRuntimeError
from waasp.runtime.inspection import queue_stats, workers
from waasp.runtime.message import DeadLetter, TaskMeta
from waasp.runtime.worker import Worker


async def run_worker(runtime: Runtime, args: argparse.Namespace) -> int:
    """``worker``: consume until SIGTERM/SIGINT (or until empty, with --burst)."""
    worker = Worker(
        runtime,
        args.queues,
        args.concurrency,
        burst=args.burst,
        name=args.hostname,
        prefetch_multiplier=args.prefetch_multiplier,
    )
    install_stop_handlers(worker.stop)
    await worker.run()
    return 0


async def run_scheduler(runtime: Runtime, args: argparse.Namespace) -> int:
    """``scheduler``: enqueue beat_schedule entries until SIGTERM/SIGINT."""
    from waasp.runtime.scheduler import Scheduler

    scheduler = Scheduler(runtime)
    install_stop_handlers(scheduler.stop)
    await scheduler.run()
    return 0


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")


def dead_letter_dict(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as a JSON-ready dict."""
    message = letter.message
    return {
        "id": letter.id,
        "queue": letter.queue,
        "reason": letter.reason,
        "task": message.task if message else None,
        "task_id": message.id if message else None,
        "args": list(message.args) if message else None,
        "kwargs": message.kwargs if message else None,
        "raw_message": None if message else letter.raw_message.decode("utf-8", "replace"),
        "error": None
        if letter.error is None
        else {
            "type": letter.error.type,
            "message": letter.error.message,
            "traceback": letter.error.traceback,
        },
        "retries": letter.retries,
        "deliveries": letter.deliveries,
        "failed_at": letter.failed_at,
        "worker": letter.worker,
        "replayed": int(message.headers.get("replayed", 0)) if message else 0,
    }


def task_dict(meta: TaskMeta) -> dict[str, Any]:
    """A task record as a JSON-ready dict."""
    return {
        "id": meta.id,
        "name": meta.name,
        "state": meta.state.value,
        "result": meta.result,
        "error": None
        if meta.error is None
        else {
            "type": meta.error.type,
            "message": meta.error.message,
            "traceback": meta.error.traceback,
        },
        "retries": meta.retries,
        "queue": meta.queue,
        "worker": meta.worker,
        "started_at": meta.started_at,
        "date_done": meta.date_done,
    }


async def run_inspect(runtime: Runtime, args: argparse.Namespace) -> int:
    """``inspect queues|workers|dlq|task ID|schedule``."""
    if args.what == "queues":
        stats = [s.as_dict() for s in await queue_stats(runtime)]
        emit(
            args.json,
            {"queues": stats},
            lambda: _table(
                ["queue", "waiting", "in_flight", "delayed", "dead", "oldest_waiting_age"], stats
            ),
        )
    elif args.what == "workers":
        found = await workers(runtime)
        emit(
            args.json,
            {"workers": found},
            lambda: _table(
                ["name", "queues", "concurrency", "held", "done", "failed", "stalled"], found
            ),
        )
    elif args.what == "dlq":
        letters = [
            dead_letter_dict(x) for x in await runtime.dlq.list(args.queue, limit=args.limit)
        ]
        counts = await runtime.dlq.count(args.queue)
        emit(
            args.json,
            {"dead_letters": letters, "total": sum(counts.values())},
            lambda: (
                _table(["id", "task", "reason", "retries", "deliveries"], letters)
                + "\n"
                + "\n".join(
                    f"{x['id']}: {x['error']['type']}: {x['error']['message']}"
                    for x in letters
                    if x["error"]
                )
            ),
        )
    elif args.what == "task":
        if not args.task_id:
            raise TaskRuntimeError("inspect task needs a task id")
        record = task_dict(await runtime.AsyncResult(args.task_id).meta())
        emit(args.json, record, lambda: "\n".join(f"{k}: {v}" for k, v in record.items()))
    else:
        from waasp.runtime.scheduler import schedule_status

        entries = await schedule_status(runtime)
        emit(
            args.json,
            {"schedule": entries},
            lambda: _table(["name", "task", "schedule", "queue", "next_run", "last_run"], entries),
        )
    return 0


async def run_dlq(runtime: Runtime, args: argparse.Namespace) -> int:
    """``dlq replay ID|--all`` and ``dlq purge [--older-than D]``."""
    if args.action == "replay":
        if args.all == bool(args.dead_id):
            raise TaskRuntimeError("dlq replay takes a dead letter ID or --all (not both)")
        ids = (
            await runtime.dlq.replay_all(args.queue)
            if args.all
            else [await runtime.dlq.replay(args.dead_id)]
        )
        emit(args.json, {"replayed": ids}, lambda: f"replayed {len(ids)} task(s)")
    else:
        removed = await runtime.dlq.purge(args.queue, args.older_than)
        emit(args.json, {"purged": removed}, lambda: f"purged {removed} dead letter(s)")
    return 0


def _table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
