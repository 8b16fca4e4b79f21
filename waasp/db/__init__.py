"""PostgreSQL: the pool, the migrations and the repositories."""
