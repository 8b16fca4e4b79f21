"""Fixtures shared by every test: the real servers the suite talks to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import servers

# The machines are shared and noisy: a slow example is load, not a failure of the property.
settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server for this test session (db 0)."""
    return servers.redis_url()


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the PostgreSQL server (maintenance database) for this test session."""
    return servers.database_url()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[servers.PrivateRedis]:
    """A Redis server of the test's own (append-only, fsync always), stopped afterwards."""
    with servers.private_redis(tmp_path) as server:
        yield server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the embedded servers the session started, before pytest reports."""
    servers.stop_embedded_servers()
