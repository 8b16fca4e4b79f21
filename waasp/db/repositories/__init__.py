"""SQL, one module per table: plain asyncpg queries with ``$n`` parameters."""
