"""The broker's one blocking client: lease renewals (of entries and of concurrency slots)
from the worker's watchdog thread.

Renewals must go on while the event loop is blocked (a task made a blocking call), so they
run in a thread of their own, on a connection of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from waasp.runtime.broker.client import WORKER_SOCKET_TIMEOUT, connect_blocking
from waasp.runtime.broker.errors import group_errors
from waasp.runtime.broker.replies import text
from waasp.runtime.broker.scripts import read_script
from waasp.runtime.keys import GROUP, Keys


class LeaseRenewals:
    """Renews the leases of held entries over a blocking connection (one thread's own)."""

    def __init__(self, url: str, keys: Keys) -> None:
        self.url = url
        self.keys = keys
        # Made on first use, in the renewing thread: a cluster client connects when made.
        self._client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        """The blocking client, made on first use."""
        if self._client is None:
            self._client = connect_blocking(self.url, WORKER_SOCKET_TIMEOUT)
            self._renew = self._client.register_script(read_script("renew"))
            self._renew_slots = self._client.register_script(read_script("slots_renew"))
        return self._client

    def renew(
        self, queue: str, consumer: str, entry_ids: Sequence[str], priority: int = 0
    ) -> list[str]:
        """Reset the idle time of entries ``consumer`` holds in the stream of ``queue``'s
        ``priority`` (``lua/renew.lua``); return those another consumer holds now.
        GroupMissing if the group is gone."""
        if not entry_ids:
            return []
        stream = self.keys.queue(queue).stream_at(priority)
        client = self.client
        with group_errors():
            lost = self._renew(keys=[stream], args=[GROUP, consumer, *entry_ids], client=client)
        return [text(i) for i in lost]

    def renew_slots(self, task: str, lease_ms: int, members: Sequence[str]) -> None:
        """Push back the expiry of the concurrency leases ``members`` of ``task`` hold
        (``lua/slots_renew.lua``; one that expired already is not taken back)."""
        if members:
            client = self.client
            self._renew_slots(
                keys=[self.keys.task_slots(task)], args=[lease_ms, *members], client=client
            )

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
