"""Start the embedded servers a configuration lacks, and stop them together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from waasp.embedded._server import EmbeddedServer
from waasp.embedded.postgres import EmbeddedPostgres
from waasp.embedded.redis import EmbeddedRedis


class EmbeddedServers:
    """The embedded Redis and/or PostgreSQL of one data directory."""

    def __init__(self, data_dir: Path | str, *, need_redis: bool, need_postgres: bool) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.redis = EmbeddedRedis(self.data_dir) if need_redis else None
        self.postgres = EmbeddedPostgres(self.data_dir) if need_postgres else None

    @property
    def redis_url(self) -> str | None:
        """The embedded broker's URL (db 0), or None when Redis was not needed."""
        return self.redis.url if self.redis else None

    @property
    def database_url(self) -> str | None:
        """The embedded ``waasp`` database's DSN, or None when PostgreSQL was not needed."""
        return self.postgres.url if self.postgres else None

    def _servers(self) -> list[EmbeddedServer]:
        return [server for server in (self.redis, self.postgres) if server is not None]

    def start(self) -> EmbeddedServers:
        """Start (or adopt) each needed server; on failure stop those this call started."""
        started: list[EmbeddedServer] = []
        try:
            for server in self._servers():
                server.start()
                started.append(server)
        except BaseException:
            for server in reversed(started):
                server.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server, PostgreSQL first, even if stopping one fails."""
        with contextlib.ExitStack() as stack:
            for server in self._servers():
                stack.callback(server.stop)


def start_embedded_servers(
    data_dir: Path | str, *, need_redis: bool = True, need_postgres: bool = True
) -> EmbeddedServers:
    """Start the needed embedded servers under data_dir and return them, URLs set.

    Blocks until each accepts connections; raises EmbeddedServerError otherwise.
    """
    return EmbeddedServers(data_dir, need_redis=need_redis, need_postgres=need_postgres).start()


@contextlib.asynccontextmanager
async def embedded_servers(
    data_dir: Path | str, *, need_redis: bool = True, need_postgres: bool = True
) -> AsyncIterator[EmbeddedServers]:
    """Run the needed embedded servers for the duration of the block.

    Starting and stopping block on processes, so they run in a thread, off the event loop.
    """
    servers = EmbeddedServers(data_dir, need_redis=need_redis, need_postgres=need_postgres)
    await asyncio.to_thread(servers.start)
    try:
        yield servers
    finally:
        await asyncio.to_thread(servers.stop)
