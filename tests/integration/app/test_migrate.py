"""`waasp migrate`'s engine: versioned, recorded, idempotent, safe when run concurrently."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import structlog

from tests.integration.app.conftest import create_database, drop_database
from waasp.db.migrate import available_migrations, current_version, migrate, migrate_connection


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


async def _at_version_1(url: str) -> asyncpg.Connection:
    """A connection to a database holding only the first migration's schema."""
    conn = await asyncpg.connect(url)
    await migrate_connection_up_to(conn, 1)
    return conn


async def migrate_connection_up_to(conn: asyncpg.Connection, version: int) -> None:
    """Apply the shipped migrations up to ``version``, recording them as `waasp migrate` does."""
    await conn.execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for migration in available_migrations():
        if migration.version <= version:
            await migration.apply(conn)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )


async def test_channel_fold_migration_folds_and_resolves_collisions(fresh_url: str) -> None:
    """0002 folds channels and trims sender ids; rows that collide keep the most restrictive
    trust (each removal audited and logged); unsafe channels stay, logged for the admin."""
    conn = await _at_version_1(fresh_url)
    try:
        insert = "INSERT INTO contacts (sender_id, channel, trust_level) VALUES ($1, $2, $3)"
        rows = [
            ("mallory", None, "trusted"),
            ("mallory", "Email", "trusted"),
            ("mallory", "EMAIL ", "blocked"),
            ("mallory", "\uff45\uff4d\uff41\uff49\uff4c", "sovereign"),  # full-width email
            ("alice", "WhatsApp", "trusted"),
            (" bob", None, "limited"),
            ("bob", None, "sovereign"),
            ("eve", "sms\u200b", "blocked"),
            ("eve", "*", "trusted"),
        ]
        for row in rows:
            await conn.execute(insert, *row)
        with structlog.testing.capture_logs() as logs:
            applied = await migrate_connection(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()][1:]
        found = await conn.fetch(
            "SELECT sender_id, channel, trust_level FROM contacts ORDER BY sender_id, channel"
        )
        assert [tuple(r) for r in found] == [
            ("alice", "whatsapp", "trusted"),
            ("bob", None, "limited"),
            ("eve", "*", "trusted"),
            ("eve", "sms\u200b", "blocked"),
            ("mallory", "email", "blocked"),
            ("mallory", None, "trusted"),
        ]
        removed = await conn.fetch(
            "SELECT sender_id, metadata->>'trust_level' AS trust FROM audit_logs"
            " WHERE action = 'contact_removed' ORDER BY id"
        )
        assert sorted((r["sender_id"], r["trust"]) for r in removed) == [
            ("bob", "sovereign"),
            ("mallory", "sovereign"),
            ("mallory", "trusted"),
        ]
        events = [e["event"] for e in logs]
        assert events.count("contact_collision_removed") == 3
        assert events.count("channel_needs_attention") == 2
        assert await migrate_connection(conn) == []
    finally:
        await conn.close()
