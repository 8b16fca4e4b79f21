"""`waasp migrate`'s engine: versioned, recorded, idempotent, safe when run concurrently."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.integration.app.conftest import create_database, drop_database
from waasp.db.migrate import available_migrations, current_version, migrate


@pytest.fixture
async def fresh_url(database_url: str) -> AsyncIterator[str]:
    """An empty database, dropped after the test."""
    name = f"waasp_test_mig_{secrets.token_hex(4)}"
    url = await create_database(database_url, name)
    yield url
    await drop_database(database_url, name)


async def test_migrate_records_versions_and_is_idempotent(fresh_url: str) -> None:
    """The first run applies every file and records it; the second applies nothing."""
    first = await migrate(fresh_url)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert await migrate(fresh_url) == []
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await current_version(conn) == available_migrations()[-1].version
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(first)
    finally:
        await conn.close()


async def test_concurrent_migrations_apply_once(fresh_url: str) -> None:
    """Several migrators at once: one applies, the others find nothing left, none fails."""
    results = await asyncio.gather(*(migrate(fresh_url) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(available_migrations())]


async def test_current_version_of_empty_database(fresh_url: str) -> None:
    """A database never migrated has no version."""
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await current_version(conn) is None
    finally:
        await conn.close()


async def test_global_row_is_unique(pg: asyncpg.Connection) -> None:
    """The schema itself refuses a second global (NULL channel) row for one sender."""
    insert = "INSERT INTO contacts (sender_id, channel, trust_level) VALUES ($1, $2, 'trusted')"
    await pg.execute(insert, "s", None)
    await pg.execute(insert, "s", "sms")
    for channel in (None, "sms"):
        with pytest.raises(asyncpg.UniqueViolationError):
            await pg.execute(insert, "s", channel)


async def test_schema_indexes_exist(pg: asyncpg.Connection) -> None:
    """audit_logs is indexed by sender/time and action/time."""
    names = {r["indexname"] for r in await pg.fetch("SELECT indexname FROM pg_indexes")}
    assert {"audit_logs_sender_created_idx", "audit_logs_action_created_idx"} <= names
