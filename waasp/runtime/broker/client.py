"""Redis clients as the runtime configures them."""

from __future__ import annotations

import functools
from typing import Any, cast

import hiredis
import redis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import DataError
from redis.retry import Retry as SyncRetry
from redis.sentinel import Sentinel as SyncSentinel

from waasp.runtime.urls import RedisTarget, Topology, parse_redis_url

try:  # newer redis-py only
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # pragma: no cover - older redis-py has no maintenance notifications
    MaintNotificationsConfig = None


# A worker's reads block for at most a second, so a reply slower than this means a stalled
# connection. Producers get no per-read timeout: it costs ~15% of enqueue throughput in
# redis-py, and callers that must not wait (the API) bound their own calls.
WORKER_SOCKET_TIMEOUT = 10.0


def _client_options() -> dict[str, Any]:
    options: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_keepalive": True}
    if MaintNotificationsConfig is not None:
        # Off (we serve no Redis Enterprise maintenance): at redis-py's "auto", its pool skips
        # the check that replaces a pooled connection the server has closed, so after a Redis
        # restart the first command on each stale connection would fail.
        options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    return options


def connect(url: str, socket_timeout: float | None = None) -> Redis:
    """A client that fails fast on connect and, with ``socket_timeout``, on a stalled read.

    A pooled connection the server has closed (it restarted) is replaced when taken from the
    pool, before anything is sent on it. Commands are not resent on a connection that breaks
    under them: a resent XADD could enqueue twice. The worker's loops retry with backoff; a
    producer sees the error (its enqueue did not return). ``url`` may name a cluster or a
    sentinel-watched master (``waasp.runtime.urls``).
    """
    return _async_client(url, {"socket_timeout": socket_timeout, "health_check_interval": 15})


def connect_blocking(url: str, socket_timeout: float | None = None) -> redis.Redis:
    """A blocking client, as ``connect`` configures it, for a thread beside the event loop."""
    target = parse_redis_url(url)
    options = _client_options() | {"socket_timeout": socket_timeout, "health_check_interval": 15}
    if target.topology is Topology.CLUSTER:
        cluster = redis.RedisCluster(
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in target.nodes],
            **_cluster_options(target),
            retry=SyncRetry(NoBackoff(), 0),
            **options,
        )
        # Same commands, another class: the lease renewals use only what both have.
        return cast(redis.Redis, cluster)
    if target.topology is Topology.SENTINEL:
        sentinel = SyncSentinel(target.nodes, sentinel_kwargs=_sentinel_options(target))
        return sentinel.master_for(target.master, **_master_options(target), **options)
    return redis.Redis.from_url(url, **options)


def connect_pubsub(url: str, socket_timeout: float | None = None) -> Redis:
    """A client for the result waiters' pub/sub connection, which redis-py never reconnects
    by itself: ``ResultBackend`` reconnects it from its listener alone (see there)."""
    # The listener pings an idle connection itself, under its lock: redis-py's own health
    # check could reconnect from another task.
    options = {
        "socket_timeout": socket_timeout,
        "health_check_interval": 0,
        "retry": Retry(NoBackoff(), 0, supported_errors=()),
    }
    return _async_client(url, options)


def _async_client(url: str, own: dict[str, Any]) -> Redis:
    target = parse_redis_url(url)
    options = _client_options() | own
    if target.topology is Topology.CLUSTER:
        # socket_keepalive breaks redis-py's asyncio cluster connections (AttributeError).
        del options["socket_keepalive"]
        cluster = _Cluster(
            startup_nodes=[ClusterNode(h, p) for h, p in target.nodes],
            **_cluster_options(target),
            **(options | {"retry": Retry(NoBackoff(), 0)}),
        )
        # The cluster client has the commands the broker sends (each broker method keeps its
        # keys in one slot) but is another class: the broker is typed against Redis.
        return cast(Redis, cluster)
    if target.topology is Topology.SENTINEL:
        sentinel = Sentinel(target.nodes, sentinel_kwargs=_sentinel_options(target))
        client = sentinel.master_for(
            target.master, redis_class=_SentinelMaster, **_master_options(target), **options
        )
    else:
        client = Redis.from_url(url, **options)
    pool = client.connection_pool
    pool.connection_class = _packed_by_hiredis(pool.connection_class)
    return client


@functools.cache
def _packed_by_hiredis(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` packing its commands in C, as redis-py's blocking client does with hiredis.

    redis-py's asyncio connections pack every command in Python, re-joining the buffer for
    each argument: a worker's batched commands (a settle, a start mark, a batch of results)
    carry hundreds of arguments, and packing them was its largest single cost (~14 % of a
    drain's CPU).
    """

    def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str):
            args = (*first.encode().split(), *args[1:])  # "SCRIPT LOAD": two words
        elif b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            copied: Any = tuple(bytes(a) if isinstance(a, bytearray) else a for a in args)
            try:
                return [hiredis.pack_command(copied)]
            except TypeError as exc:
                raise DataError(str(exc)) from exc

    return type(f"Hiredis{base.__name__}", (base,), {"pack_command": pack_command})


class _SentinelMaster(Redis):  # type: ignore[misc]  # redis-py is Any to mypy (pyproject)
    """The client of a sentinel-watched master; closing it closes its sentinels' clients."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        manager = getattr(self.connection_pool, "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()


class _Cluster(RedisCluster):  # type: ignore[misc]  # redis-py is Any to mypy (pyproject)
    """A cluster client that loads its slot map before its first command.

    redis-py's own client routes a command before it loads the map: commands sent at once by
    a fresh client then race the loading, which closes the connections they took (their
    "Connection closed by server" is hidden only by resending them, which we never do).
    """

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)


def _cluster_options(target: RedisTarget) -> dict[str, Any]:
    # A MOVED or ASK reply is followed by the client itself; a connection error is raised
    # (after the slot map is marked for reloading), never resent.
    return {"username": target.username, "password": target.password, "ssl": target.tls}


def _sentinel_options(target: RedisTarget) -> dict[str, Any]:
    return {"password": target.sentinel_password, "socket_connect_timeout": 5.0}


def _master_options(target: RedisTarget) -> dict[str, Any]:
    options: dict[str, Any] = {"db": target.db, "ssl": target.tls}
    if target.username:
        options["username"] = target.username
    if target.password:
        options["password"] = target.password
    return options


def is_cluster(client: object) -> bool:
    """Tell whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster | redis.RedisCluster)


async def ready(client: Redis) -> None:
    """Load a cluster client's slot map (a no-op for other clients): some of its calls,
    pub/sub among them, need it before their first command."""
    if isinstance(client, RedisCluster):
        await client.initialize()


async def drop_idle_connections(client: Redis) -> None:
    """Drop a client's idle pooled connections, so each reconnects on its next use (after a
    failover they may lead to the old master); a cluster client reloads its slot map too."""
    if isinstance(client, RedisCluster):
        await client.aclose()
    else:
        await client.connection_pool.disconnect(inuse_connections=False)


async def server_infos(client: Redis, section: str) -> list[dict[str, Any]]:
    """``INFO section`` of the server, or of every master of a cluster."""
    if isinstance(client, RedisCluster):
        replies = await client.info(section, target_nodes=RedisCluster.PRIMARIES)
        return list(replies.values())
    return [await client.info(section)]


async def eviction_policy(client: Redis) -> str | None:
    """The server's ``maxmemory-policy``, or None if it does not say. Read from INFO, which
    managed services leave enabled where they rename CONFIG; on a cluster, the first master's
    that evicts, if any does."""
    found = [info.get("maxmemory_policy") for info in await server_infos(client, "memory")]
    policies = [p.decode() if isinstance(p, bytes) else str(p) for p in found if p is not None]
    return next((p for p in policies if p != "noeviction"), policies[0] if policies else None)
