"""Fixtures shared by every test: the real servers the suite talks to."""

from __future__ import annotations

import pytest

from tests import servers


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server for this test session (db 0)."""
    return servers.redis_url()


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the PostgreSQL server (maintenance database) for this test session."""
    return servers.database_url()
