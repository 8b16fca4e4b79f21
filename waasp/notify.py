"""Blocked-sender notifications: folding bursts, the Slack-compatible message, the POST.

A burst of blocks from one sender must not become a burst of notifications: the first
block in a window notifies at once; later blocks of that sender in the window are counted
and reported together in one follow-up when the window ends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from redis.asyncio import Redis

from waasp import slack
from waasp.errors import WaaspError

WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)


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
    """Window bookkeeping in Redis, shared by every worker."""

    def __init__(self, client: Redis, prefix: str, window: float) -> None:
        self.client = client
        self.prefix = prefix
        self.window_ms = max(int(window * 1000), 1)

    def _keys(self, sender_id: str, channel: str | None) -> tuple[str, str]:
        digest = hashlib.sha256(f"{channel or ''}\0{sender_id}".encode()).hexdigest()[:32]
        base = f"{self.prefix}:notify:{digest}"
        return f"{base}:window", f"{base}:folded"

    async def decide(self, sender_id: str, channel: str | None) -> FoldDecision:
        """Open a window (NOTIFY) or count the block into the open one."""
        window, folded = self._keys(sender_id, channel)
        if await self.client.set(window, b"1", nx=True, px=self.window_ms):
            return FoldDecision(Fold.NOTIFY)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(folded)
            pipe.pexpire(folded, self.window_ms * 3)
            pipe.pttl(window)
            count, _, left_ms = await pipe.execute()
        if int(count) == 1:
            return FoldDecision(Fold.FOLLOW_UP, max(int(left_ms), 0) / 1000)
        return FoldDecision(Fold.FOLDED)

    async def take_folded(self, sender_id: str, channel: str | None) -> int:
        """How many blocks were folded since the last follow-up (and reset the count)."""
        _, folded = self._keys(sender_id, channel)
        value = await self.client.getdel(folded)
        return int(value) if value else 0
