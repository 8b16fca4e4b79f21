"""What a check costs on the wire: the pool sends nothing of its own when a connection is
given back (a check is one round trip), and still never hands out an open transaction."""

from __future__ import annotations

from waasp.db.pool import Database


async def test_release_sends_no_reset_and_rolls_back_an_open_transaction(
    app_database_url: str,
) -> None:
    """A session setting survives release (no ``RESET ALL`` round trip was sent); a
    transaction left open is rolled back before the connection is handed out again."""
    database = Database(app_database_url, max_size=1)
    await database.open()
    try:
        async with database.connection() as conn:
            await conn.execute("SET application_name = 'kept-by-the-pool'")
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        async with database.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == backend
            assert await conn.fetchval("SHOW application_name") == "kept-by-the-pool"
            await conn.execute("BEGIN")
            assert conn.is_in_transaction()
        async with database.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == backend
            assert not conn.is_in_transaction()
    finally:
        await database.close()
