"""The PostgreSQL pool, created without connecting so WAASP starts while the server is down.

Connections are opened on demand and re-opened after the server comes back; every error that
means "the database cannot be reached" becomes DependencyUnavailable (an API 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from waasp.errors import DependencyUnavailable

# Errors that say nothing about the query and everything about the server or the link to it.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InternalClientError,
)
# The schema is missing: the server is up but `waasp migrate` has not run.
SCHEMA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.InvalidCatalogNameError,  # the database itself does not exist
)

DEFAULT_POOL_SIZE = 10

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What repositories take: a pooled connection or a plain one (migrations, scripts).
    # Typing only: PoolConnectionProxy is not subscriptable at run time.
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]


def unavailable(exc: BaseException) -> DependencyUnavailable:
    """Describe a connection-level failure without leaking the DSN."""
    if isinstance(exc, asyncpg.exceptions.InvalidCatalogNameError):
        return DependencyUnavailable("postgresql", f"{exc}; create it, then run `waasp migrate`")
    if isinstance(exc, SCHEMA_ERRORS):
        return DependencyUnavailable(
            "postgresql", f"database schema missing ({exc}); run `waasp migrate`"
        )
    detail = str(exc) or type(exc).__name__
    return DependencyUnavailable("postgresql", detail)


async def keep_session(_conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback of an open transaction.

    asyncpg's default reset sends ``RESET ALL; UNLISTEN *; CLOSE ALL; advisory unlock`` on
    every release, one more round trip per query. WAASP never changes a pooled connection's
    session (no SET, LISTEN, cursors or advisory locks outside ``waasp migrate``'s own
    connection), so there is nothing to reset, and a check is a single round trip.
    """


class Database:
    """A lazily connecting asyncpg pool with error mapping."""

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
    ) -> None:
        self.dsn = dsn
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Create the pool. min_size=0 means this never touches the network."""
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=0,
            max_size=self._max_size,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
            # Idle connections go after a minute; a restarted server leaves none stale for long.
            max_inactive_connection_lifetime=60.0,
            reset=keep_session,
        )

    async def close(self) -> None:
        """Close every connection; waits for borrowed ones briefly, then terminates."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=5.0)
        except UNAVAILABLE_ERRORS:
            pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        """The open pool (raises if ``open()`` was not awaited)."""
        if self._pool is None:
            raise DependencyUnavailable("postgresql", "the connection pool is not open")
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """Borrow a connection; connection failures inside the block become 503s."""
        try:
            async with self.pool.acquire(timeout=self._connect_timeout) as conn:
                yield conn
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc) from exc
        except SCHEMA_ERRORS as exc:
            raise unavailable(exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """Borrow a connection inside a transaction that commits when the block ends."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        """Raise DependencyUnavailable unless the server answers and the schema exists."""
        async with self.connection() as conn:
            await conn.fetchval("SELECT 1 FROM schema_migrations LIMIT 1")
