"""Turn a private redis-server into a replica of another and back, as a failover does.

The switch is lossless, the way Redis's own FAILOVER does it: writes on the old master are
paused until the new one has every byte of it, then the new one is promoted and the old one
is pointed at it with ``REPLICAOF``. Clients still connected to the old master (the workers)
meet READONLY on their writes and UNBLOCKED on their blocked reads until it is switched back.
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from tests import servers

HOST = "127.0.0.1"
PAUSE_MS = 30_000  # lifted by CLIENT UNPAUSE as soon as the roles are switched


async def _replication(client: Redis) -> dict[str, object]:
    return dict(await client.info("replication"))


async def wait_synced(replica: Redis, master: Redis, timeout: float = 30.0) -> None:
    """Wait until ``replica`` is linked to ``master`` and has its whole replication stream."""
    deadline = time.monotonic() + timeout
    while True:
        mine, theirs = await _replication(replica), await _replication(master)
        if (
            mine.get("master_link_status") == "up"
            and not int(str(mine.get("master_sync_in_progress", 1)))
            and mine.get("slave_repl_offset") == theirs.get("master_repl_offset")
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"replica not in sync after {timeout}s: {mine} / {theirs}")
        await asyncio.sleep(0.05)


async def follow(replica: Redis, master: servers.PrivateRedis, master_client: Redis) -> None:
    """Make ``replica`` a replica of ``master`` and wait until it has all of its data."""
    await replica.replicaof(HOST, master.port)
    await wait_synced(replica, master_client)


async def switch(
    old: Redis, new: Redis, new_server: servers.PrivateRedis, timeout: float = 30.0
) -> None:
    """Promote ``new`` (a synced replica of ``old``) and make ``old`` its replica, losing no
    write: ``old`` is paused for writes until ``new`` has all of them."""
    await old.client_pause(PAUSE_MS, all=False)
    try:
        await wait_synced(new, old, timeout)
        await new.replicaof("NO", "ONE")
        await old.replicaof(HOST, new_server.port)
    finally:
        await old.client_unpause()
    await wait_synced(old, new, timeout)
