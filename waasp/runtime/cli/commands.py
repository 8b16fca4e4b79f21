"""The command-line subcommands' bodies (``main`` parses, these act)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from waasp.runtime.app import Runtime
from waasp.runtime.cli.control import run_queue_control
from waasp.runtime.cli.output import emit, install_stop_handlers
from waasp.runtime.cron.scheduler import Scheduler
from waasp.runtime.errors import TaskRuntimeError
from waasp.runtime.monitor import (
    dead_letter_page,
    queue_stats,
    schedule_status,
    task_detail,
    workers,
)
from waasp.runtime.worker.heap import freeze_startup_heap
from waasp.runtime.worker.worker import Worker


async def run_worker(runtime: Runtime, args: argparse.Namespace) -> int:
    """``worker``: consume until SIGTERM/SIGINT (or until empty, with --burst)."""
    worker = Worker(
        runtime,
        args.queues,
        args.concurrency,
        burst=args.burst,
        name=args.hostname,
        prefetch_multiplier=args.prefetch_multiplier,
        strict=args.strict,
    )
    install_stop_handlers(worker.stop)
    freeze_startup_heap()  # this process is the worker's: see worker/heap.py
    await worker.run()
    return 0


async def run_scheduler(runtime: Runtime, args: argparse.Namespace) -> int:
    """``scheduler``: enqueue beat_schedule entries until SIGTERM/SIGINT."""
    scheduler = Scheduler(runtime)
    install_stop_handlers(scheduler.stop)
    await scheduler.run()
    return 0


async def run_inspect(runtime: Runtime, args: argparse.Namespace) -> int:
    """``inspect queues|workers|dlq|task ID|schedule``."""
    if args.what == "queues":
        stats = [s.as_dict() for s in await queue_stats(runtime)]
        rows = [{"queue": s["name"], **s} for s in stats]  # the JSON keeps the API's `name`
        emit(
            args.json,
            {"queues": stats},
            lambda: _table(
                [
                    *("queue", "waiting", "in_flight", "delayed", "dead"),
                    *("oldest_waiting_age", "paused"),
                ],
                rows,
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
        page = await dead_letter_page(runtime, args.queue, args.limit, args.offset)
        letters = page["dead_letters"]
        emit(
            args.json,
            page,
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
        record = await task_detail(runtime, args.task_id)
        emit(args.json, record, lambda: "\n".join(f"{k}: {v}" for k, v in record.items()))
    else:
        entries = await schedule_status(runtime)
        emit(
            args.json,
            {"schedule": entries},
            lambda: _table(["name", "task", "schedule", "queue", "next_run", "last_run"], entries),
        )
    return 0


async def run_dlq(runtime: Runtime, args: argparse.Namespace) -> int:
    """``dlq replay ID|--all`` and ``dlq purge --all|--queue Q|--older-than D [--yes]``
    (asking first on a terminal)."""
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
        if not (args.all or args.queue or args.older_than is not None):
            raise TaskRuntimeError("dlq purge takes --all, --queue QUEUE or --older-than D")
        if sys.stdin.isatty() and not args.yes and not await _purge_confirmed(runtime, args):
            sys.stderr.write("nothing purged\n")
            return 1
        removed = await runtime.dlq.purge(args.queue, args.older_than)
        emit(args.json, {"purged": removed}, lambda: f"purged {removed} dead letter(s)")
    return 0


async def run_control(runtime: Runtime, args: argparse.Namespace) -> int:
    """``control ACTION ...``: one handler per action."""
    return await CONTROL_ACTIONS[args.action](runtime, args)


async def _revoke(runtime: Runtime, args: argparse.Namespace) -> int:
    """``control revoke ID [--terminate]``: recorded even for an id with no record (the
    output says so), as Celery does, so a task sent later with that id will not run."""
    report = await runtime.control.revoke(args.task_id, terminate=args.terminate)
    emit(args.json, report.as_dict(), lambda: f"revoked {report.task_id}: {report.note}")
    return 0


CONTROL_ACTIONS: dict[str, Callable[[Runtime, argparse.Namespace], Awaitable[int]]] = {
    "revoke": _revoke,
    "pause": run_queue_control,
    "resume": run_queue_control,
}


async def _purge_confirmed(runtime: Runtime, args: argparse.Namespace) -> bool:
    """Ask on the terminal (stderr, so --json output stays one document); yes is y or yes."""
    count = sum((await runtime.dlq.count(args.queue)).values())
    which = f"queue {args.queue}" if args.queue else "every queue"
    age = f" older than {args.older_than:g} s" if args.older_than is not None else ""
    sys.stderr.write(f"purge the dead letters{age} of {which} ({count} in all)? [y/N] ")
    sys.stderr.flush()
    answer = await asyncio.to_thread(sys.stdin.readline)
    return answer.strip().lower() in {"y", "yes"}


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


async def run_dashboard(runtime: Runtime, args: argparse.Namespace) -> int:
    """``dashboard``: serve the page, the monitoring API and /metrics until SIGTERM/SIGINT."""
    try:  # late: aiohttp and prometheus-client are the [dashboard] extra's
        from waasp.runtime.dashboard.serve import serve
    except ImportError as exc:
        raise TaskRuntimeError(
            f"the dashboard needs the [dashboard] extra ({exc.name} is not installed): "
            "pip install 'waasp-runtime[dashboard]'"
        ) from None
    await serve(
        runtime,
        args.host,
        args.port,
        metrics_public=args.metrics_public,
        out=sys.stdout,
        install_stop=install_stop_handlers,
    )
    return 0
