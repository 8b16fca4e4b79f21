"""Blocked-sender notifications, from the check to the webhook.

In the API process, ``TaskNotifier`` hands each blocked sender to the notification task
without the check waiting. On a worker, a burst of blocks from one sender must not become a
burst of notifications: the first block in a window notifies at once; later blocks of that
sender in the window are counted and reported together in one follow-up when the window
ends. The message is Slack-compatible JSON, POSTed to the configured webhook.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from waasp import slack
from waasp.errors import WaaspError
from waasp.runtime import Runtime, Task, WindowCounter

log = structlog.get_logger(__name__)

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)
ENQUEUE_TIMEOUT = 1.0
# After a failed enqueue, skip enqueues for this long instead of piling up waits on a
# broker that is down; a blocked check never waits for any of it anyway.
COOL_DOWN = 1.0
MAX_BATCH = 1000


class TaskNotifier:
    """Hands every blocked sender to ``task``, in batches, never making the check wait.

    ``sender_blocked`` only appends to a buffer; one flusher sends what has gathered through
    the task's handle with ``runtime.send_many`` (one round trip per batch), so a flood of
    strangers costs the API a pipeline now and then rather than a Redis round trip per
    check. Notifications that cannot be enqueued are logged and counted by ``on_failure``.
    """

    def __init__(
        self,
        runtime: Runtime,
        task: Task,
        *,
        timeout: float = ENQUEUE_TIMEOUT,
        on_failure: Callable[[str, int], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.task = task
        self.timeout = timeout
        self.on_failure = on_failure
        self._skip_until = 0.0
        self._pending: list[tuple[str, str | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    def sender_blocked(self, sender_id: str, channel: str | None) -> None:
        """Buffer the notification for the flusher; when the broker just failed, count it lost."""
        if time.monotonic() < self._skip_until:
            self._failed(1, "broker recently unreachable")
            return
        self._pending.append((sender_id, channel))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="notification-flusher")

    async def aclose(self) -> None:
        """Send what is still buffered (bounded by the timeout)."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher], timeout=self.timeout * 2)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with asyncio.timeout(self.timeout):
                    await self.runtime.send_many([self.task.s(s, c) for s, c in batch])
            except Exception as exc:
                self._skip_until = time.monotonic() + COOL_DOWN
                self._failed(len(batch), str(exc) or type(exc).__name__)

    def _failed(self, count: int, error: str) -> None:
        log.warning("notification_enqueue_failed", count=count, error=error)
        if self.on_failure is not None:
            self.on_failure(self.task.name, count)


class WebhookFailed(WaaspError):
    """The webhook did not take the message; worth another try (network, 429, 5xx)."""


class WebhookRejected(WaaspError):
    """The webhook refused the message for good (a 4xx other than 429)."""


def _host(url: str) -> str:
    # Webhook URLs often carry a secret in their path: errors name only the host.
    return urlsplit(url).hostname or "the webhook"


async def post_json(session: aiohttp.ClientSession, url: str, payload: Any) -> int:
    """POST ``payload`` as JSON; return the status, or raise WebhookFailed/WebhookRejected."""
    try:
        async with session.post(
            url, json=payload, timeout=WEBHOOK_TIMEOUT, allow_redirects=False
        ) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebhookFailed(f"POST to {_host(url)} failed: {type(exc).__name__}") from exc
    if status < 300:
        return status
    if status == 429 or status >= 500:
        raise WebhookFailed(f"{_host(url)} answered {status}")
    raise WebhookRejected(f"{_host(url)} answered {status}")


def blocked_message(sender_id: str, channel: str | None, folded: int = 0) -> dict[str, Any]:
    """The Slack-compatible JSON body of a notification."""
    where = f"on channel {channel}" if channel else "on every channel"
    if folded:
        text = f"WAASP blocked {folded} more message(s) from {sender_id} {where} in the last window"
    else:
        text = f"WAASP blocked a message from unknown or blocked sender {sender_id} {where}"
    return {
        "text": slack.escape(text),
        "sender_id": sender_id,
        "channel": channel,
        "folded": folded,
    }


class Fold(StrEnum):
    """What a block means for notifications."""

    NOTIFY = "notify"  # first in its window: notify now
    FOLLOW_UP = "follow_up"  # first folded one: schedule the follow-up at the window's end
    FOLDED = "folded"  # counted into the pending follow-up


@dataclass(frozen=True, slots=True)
class FoldDecision:
    """A fold decision, with the seconds until the window ends (for FOLLOW_UP)."""

    fold: Fold
    window_left: float = 0.0


class BlockFolder:
    """Folds the blocks of one sender on one channel over a window shared by every worker."""

    def __init__(self, windows: WindowCounter) -> None:
        self.windows = windows

    async def decide(self, sender_id: str, channel: str | None) -> FoldDecision:
        """Open a window (NOTIFY) or count the block into the open one."""
        hit = await self.windows.hit(_window_key(sender_id, channel))
        if hit.opened:
            return FoldDecision(Fold.NOTIFY)
        if hit.count == 1:
            return FoldDecision(Fold.FOLLOW_UP, hit.left)
        return FoldDecision(Fold.FOLDED)

    async def take_folded(self, sender_id: str, channel: str | None) -> int:
        """How many blocks were folded since the last follow-up (and reset the count)."""
        return await self.windows.take(_window_key(sender_id, channel))


def _window_key(sender_id: str, channel: str | None) -> str:
    return f"{channel or ''}\0{sender_id}"
