"""``control pause QUEUE`` and ``control resume QUEUE``: the queue controls of the CLI."""

from __future__ import annotations

import argparse

from waasp.runtime.app import Runtime
from waasp.runtime.cli.output import emit

QUEUE_ACTIONS = ("pause", "resume")


def add_queue_controls(control: argparse.ArgumentParser) -> None:
    """The arguments of ``control pause|resume QUEUE [--json]``."""
    control.add_argument("action", choices=QUEUE_ACTIONS)
    control.add_argument("target", metavar="QUEUE", help="the queue to pause or resume")
    control.add_argument("--json", action="store_true")


async def run_queue_control(runtime: Runtime, args: argparse.Namespace) -> int:
    """Pause or resume a queue for every worker; say whether that changed anything."""
    queue = args.target
    if args.action == "pause":
        changed = await runtime.control.pause(queue)
    else:
        changed = await runtime.control.resume(queue)
    paused = args.action == "pause"
    state = "paused" if paused else "resumed"
    emit(
        args.json,
        {"queue": queue, "paused": paused, "changed": changed},
        lambda: f"queue {queue} {state}" if changed else f"queue {queue} was {state} already",
    )
    return 0
