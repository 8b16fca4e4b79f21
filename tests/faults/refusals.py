"""How the fault tests make a private redis-server say no, and take it back.

``out_of_memory``: maxmemory below what it holds, under noeviction (OOM on every write that
may grow memory). ``no_replicas``: min-replicas-to-write 1 with no replica (NOREPLICAS on
every write). ``turned_replica``: the server made a replica of a second one with REPLICAOF,
then master again. The switch is lossless, the way Redis's own FAILOVER does it: writes on the
old master are paused until the new one has every byte of it, then the new one is promoted
and the old one is pointed at it. Clients still connected to the old master (the workers)
meet READONLY on their writes and UNBLOCKED on their blocked reads until it is switched back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from tests import servers
from tests.integration.runtime.conftest import WorkerProcess

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


@dataclass(frozen=True)
class Refusal:
    """A way for Redis to say no: ``refuse`` starts it, ``restore`` ends it."""

    name: str
    refuse: Callable[[], Awaitable[None]]
    restore: Callable[[], Awaitable[None]]


def out_of_memory(admin: Redis) -> Refusal:
    """maxmemory 1 byte under noeviction, then no limit."""

    async def refuse() -> None:
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", "1")

    async def restore() -> None:
        await admin.config_set("maxmemory", "0")

    return Refusal("oom", refuse, restore)


def no_replicas(admin: Redis) -> Refusal:
    """min-replicas-to-write 1 with no replica, then 0."""

    async def refuse() -> None:
        await admin.config_set("min-replicas-to-write", "1")

    async def restore() -> None:
        await admin.config_set("min-replicas-to-write", "0")

    return Refusal("noreplicas", refuse, restore)


def turned_replica(
    admin: Redis, server: servers.PrivateRedis, second: Redis, other: servers.PrivateRedis
) -> Refusal:
    """``server`` made a replica of ``other`` (a synced replica of it: see ``follow``), then
    master again."""

    async def refuse() -> None:
        await switch(admin, second, other)

    async def restore() -> None:
        await switch(second, admin, server)

    return Refusal("replicaof", refuse, restore)


@contextlib.asynccontextmanager
async def refusal(
    kind: str, server: servers.PrivateRedis, tmp_path: Path
) -> AsyncIterator[Refusal]:
    """The refusal named ``kind`` (``oom``, ``noreplicas``, ``replicaof``) of ``server``, with
    the clients (and, for ``replicaof``, the second server) it needs while it is used."""
    admin = Redis.from_url(server.url)
    try:
        if kind == "oom":
            yield out_of_memory(admin)
        elif kind == "noreplicas":
            yield no_replicas(admin)
        else:
            (tmp_path / "replica").mkdir()
            with servers.private_redis(tmp_path / "replica") as other:
                second = Redis.from_url(other.url)
                try:
                    await follow(second, server, admin)
                    yield turned_replica(admin, server, second, other)
                finally:
                    await second.aclose()
    finally:
        await admin.aclose()


def logged(worker: WorkerProcess, event: str) -> int:
    """How many times the worker logged ``event``."""
    return worker.output().count(f'"event":"{event}"')
