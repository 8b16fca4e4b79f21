"""Apply the versioned migrations under ``waasp/db/migrations`` exactly once each.

Files are named ``NNNN_description.sql``, or ``NNNN_description.py`` for a change SQL cannot
express (a module with ``async def upgrade(conn)``). Each runs in its own transaction together
with the row recording its version, and an advisory lock makes concurrent ``waasp migrate``
runs wait for each other instead of racing.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

# An arbitrary constant: the key of the advisory lock all migrators share.
MIGRATION_LOCK_KEY = 0x57A5_0001
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(sql|py)$")
_PACKAGE = "waasp.db.migrations"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned SQL file, or Python module (``module`` names it)."""

    version: int
    name: str
    sql: str = ""
    module: str | None = None

    async def apply(self, conn: asyncpg.Connection) -> None:
        """Run the migration over ``conn`` (inside the caller's transaction)."""
        if self.module is None:
            await conn.execute(self.sql)
        else:
            await importlib.import_module(self.module).upgrade(conn)


def available_migrations() -> list[Migration]:
    """Return the migrations shipped with WAASP, oldest first."""
    found = []
    for entry in resources.files("waasp.db").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match and match[3] == "sql":
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
        elif match:
            module = f"{_PACKAGE}.{entry.name.removesuffix('.py')}"
            found.append(Migration(int(match[1]), match[2], module=module))
    return sorted(found, key=lambda m: m.version)


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    """Return the versions already recorded in ``schema_migrations``."""
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {row["version"] for row in rows}


async def migrate_connection(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every pending migration over ``conn``; return the ones applied now."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        done = await applied_versions(conn)
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await migration.apply(conn)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def migrate(dsn: str) -> list[Migration]:
    """Connect to ``dsn`` and apply every pending migration; return the ones applied now."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await migrate_connection(conn)
    finally:
        await conn.close()


async def current_version(conn: asyncpg.Connection) -> int | None:
    """Return the newest applied version, or None for a database never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    version: int | None = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return version
