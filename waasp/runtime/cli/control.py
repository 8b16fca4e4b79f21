"""``control pause QUEUE`` and ``control resume QUEUE``: the queue controls of the CLI."""

from __future__ import annotations

import argparse

from waasp.runtime.app import Runtime
from waasp.runtime.cli.output import emit

QUEUE_ACTIONS = {
    "pause": "pause a queue on every worker (its tasks wait)",
    "resume": "resume a paused queue on every worker",
}


async def run_queue_control(runtime: Runtime, args: argparse.Namespace) -> int:
    """Pause or resume a queue for every worker; say whether that changed anything."""
    queue = args.queue
    paused = args.action == "pause"
    if paused:
        changed = await runtime.control.pause(queue)
    else:
        changed = await runtime.control.resume(queue)
    state = "paused" if paused else "resumed"
    emit(
        args.json,
        {"queue": queue, "paused": paused, "changed": changed},
        lambda: f"queue {queue} {state}" if changed else f"queue {queue} was {state} already",
    )
    return 0
