"""A global cap on blocked-sender notifications, across all senders.

Per-sender folding (``waasp.notify``) turns a burst from one sender into two messages, but
500 distinct strangers would still be 500 messages (and, with the webhook answering 429,
four attempts and a dead letter each). At most ``WAASP_NOTIFY_GLOBAL_MAX`` notifications go
out per ``WAASP_NOTIFY_WINDOW`` (a token bucket in Redis, shared by every worker); the ones
held back are counted, and one summary reports them when the window ends.
"""

from __future__ import annotations

from typing import Any

from waasp import slack
from waasp.runtime import RateLimiter, Task

GLOBAL_BUCKET = "notify:global"
# Seconds a notification may wait for a worker before it is worthless: past it the task is
# not run (REVOKED, reason expired). A delayed one gets its delay on top.
NOTIFY_EXPIRES = 15 * 60.0


def summary_message(held_back: int, window: float) -> dict[str, Any]:
    """The Slack-compatible body of the summary of the notifications held back."""
    text = (
        f"WAASP blocked {held_back} more message(s) in the last {window:g} s; their "
        "notifications were held back (WAASP_NOTIFY_GLOBAL_MAX). See the audit log."
    )
    return {"text": slack.escape(text), "held_back": held_back}


class NotificationCap:
    """Sends a notification if the global budget allows, else counts it for the summary."""

    def __init__(
        self, limiter: RateLimiter, limit: int, window: float, deliver: Task, summary: Task
    ) -> None:
        self.limiter = limiter
        self.limit = limit
        self.window = window
        self.deliver_task = deliver
        self.summary_task = summary

    async def deliver(self, payload: dict[str, Any]) -> bool:
        """Enqueue ``payload`` for delivery; False when held back (the first one held back in
        a window schedules the summary for the window's end)."""
        decision = await self.limiter.acquire(GLOBAL_BUCKET, self.limit / self.window, self.limit)
        if decision.allowed:
            await self.deliver_task.delay(payload)
            return True
        if decision.denied == 1:
            await self.summary_task.apply_async(
                countdown=self.window, expires=self.window + NOTIFY_EXPIRES
            )
        return False


async def send_summary(limiter: RateLimiter, deliver: Task, window: float) -> int:
    """The summary task's body: report, in one message, the notifications held back since
    the last summary; return how many."""
    held_back = await limiter.take_denied(GLOBAL_BUCKET)
    if held_back:
        await deliver.delay(summary_message(held_back, window))
    return held_back
