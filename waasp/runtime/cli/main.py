"""``python -m waasp.runtime``: worker, scheduler, inspect, dlq, control and dashboard commands.

Every subcommand (and each ``control`` action) takes ``-A MODULE:ATTR`` naming a Runtime.
Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from waasp.runtime.app import Runtime
from waasp.runtime.broker import REDIS_ERRORS
from waasp.runtime.cli.control import QUEUE_ACTIONS
from waasp.runtime.errors import AppImportError, TaskRuntimeError
from waasp.runtime.logs import configure_logging

DEFAULT_APP = "waasp.tasks:runtime"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def load_app(spec: str) -> Runtime:
    """Import ``module:attr`` and return the Runtime it names."""
    module_name, _, attr = spec.partition(":")
    if not module_name:
        raise AppImportError(f"-A {spec!r}: expected MODULE:ATTR")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AppImportError(f"-A {spec!r}: cannot import {module_name}: {exc}") from None
    app = getattr(module, attr or "runtime", None)
    if not isinstance(app, Runtime):
        raise AppImportError(f"-A {spec!r}: {attr or 'runtime'} is not a waasp.runtime.Runtime")
    return app


def parse_duration(text: str) -> float:
    """``90``, ``45s``, ``30m``, ``12h``, ``7d``, ``2w`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 30m, 12h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _queues(text: str) -> list[str]:
    return [q.strip() for q in text.split(",") if q.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m waasp.runtime")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, within: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = within.add_parser(name, help=help_text)
        p.add_argument("-A", "--app", default=DEFAULT_APP, help="MODULE:ATTR of the Runtime")
        # choices: logging's set-up would meet an unknown level as a KeyError traceback
        p.add_argument(
            "--loglevel",
            "-l",
            default="info",
            type=str.lower,
            choices=["debug", "info", "warning", "error", "critical"],
        )
        p.add_argument("--logformat", choices=["json", "console"], default=None)
        return p

    worker = command("worker", "consume queues")
    worker.add_argument(
        "-Q",
        "--queues",
        type=_queues,
        default=None,
        help="comma-separated queues (default: the default queue)",
    )
    worker.add_argument("-c", "--concurrency", type=int, default=None)
    worker.add_argument("-n", "--hostname", default=None, help="consumer name")
    worker.add_argument("--prefetch-multiplier", type=int, default=None)
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--strict",
        action="store_true",
        help="refuse to start unless Redis's maxmemory-policy is noeviction (default: warn)",
    )

    command("scheduler", "enqueue beat_schedule entries on time")

    inspect = command("inspect", "show queues, workers, dead letters, a task")
    inspect.add_argument("what", choices=["queues", "workers", "dlq", "task", "schedule"])
    inspect.add_argument("task_id", nargs="?")
    inspect.add_argument("--json", action="store_true")
    inspect.add_argument("--queue", default=None)
    inspect.add_argument("--limit", type=int, default=50)
    inspect.add_argument("--offset", type=int, default=0)

    dlq = command("dlq", "replay or purge dead letters")
    dlq.add_argument("action", choices=["replay", "purge"])
    dlq.add_argument("dead_id", nargs="?")
    dlq.add_argument("--all", action="store_true")
    dlq.add_argument("--queue", default=None)
    dlq.add_argument("--older-than", type=parse_duration, default=None)
    dlq.add_argument("-y", "--yes", action="store_true", help="purge without asking")
    dlq.add_argument("--json", action="store_true")

    # ``control ACTION``: each action is a parser of its own, with the common options.
    control = sub.add_parser("control", help="control tasks and queues on every worker")
    actions = control.add_subparsers(dest="action", required=True)
    revoke = command("revoke", "revoke a task (it will not start; --terminate stops it)", actions)
    revoke.add_argument("task_id")
    revoke.add_argument("--terminate", action="store_true", help="also stop it if it runs")
    revoke.add_argument("--json", action="store_true")
    for action, text in QUEUE_ACTIONS.items():
        queue_control = command(action, text, actions)
        queue_control.add_argument("queue", metavar="QUEUE")
        queue_control.add_argument("--json", action="store_true")
    dashboard = command("dashboard", "serve the web dashboard and /metrics (needs [dashboard])")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dashboard.add_argument("--port", type=int, default=5555, help="0: any free port")
    dashboard.add_argument(
        "--metrics-public", action="store_true", help="serve /metrics without the token"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; exit 0 on success, 1 on an error, 2 on bad usage."""
    args = build_parser().parse_args(argv)
    configure_logging(args.logformat, args.loglevel)
    from waasp.runtime.cli import commands  # late: keeps `--help` free of heavy imports

    handlers: dict[str, Callable[[Runtime, argparse.Namespace], Awaitable[int]]] = {
        "worker": commands.run_worker,
        "scheduler": commands.run_scheduler,
        "inspect": commands.run_inspect,
        "dlq": commands.run_dlq,
        "control": commands.run_control,
        "dashboard": commands.run_dashboard,
    }
    try:
        runtime = load_app(args.app)
        code = asyncio.run(_with_close(runtime, handlers[args.command](runtime, args)))
    except KeyboardInterrupt:
        code = 130
    except (TaskRuntimeError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        code = 1
    except REDIS_ERRORS as exc:
        sys.stderr.write(f"error: Redis is unreachable: {exc}\n")
        code = 1
    sys.exit(code)


async def _with_close(runtime: Runtime, work: Awaitable[int]) -> int:
    try:
        return await work
    finally:
        await runtime.close()
