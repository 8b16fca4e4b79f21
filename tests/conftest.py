"""Fixtures shared by every test: the real servers the suite talks to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import chromium, servers

# The runtime's own pytest plugin (key prefixes, in-process workers), as an app would use it;
# pytester runs it in a project of its own.
pytest_plugins = ["waasp.runtime.testing", "pytester"]

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
def runtime_redis_url(redis_url: str) -> str:
    """The runtime plugin's server: the one this suite found or started (tests/servers.py)."""
    return redis_url


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the PostgreSQL server (maintenance database) for this test session."""
    return servers.database_url()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[servers.PrivateRedis]:
    """A Redis server of the test's own (append-only, fsync always), stopped afterwards."""
    with servers.private_redis(tmp_path) as server:
        yield server


_CHROMIUM = pytest.StashKey[str | BaseException]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """When a selected test needs Chromium, find or install it now: before any test runs, so
    that an install (minutes, on a bare machine) counts against no test's timeout."""
    if any("chromium_path" in getattr(item, "fixturenames", ()) for item in session.items):
        try:
            session.config.stash[_CHROMIUM] = chromium.ensure_chromium()
        except (chromium.ChromiumMissing, chromium.ChromiumMisconfigured) as exc:
            session.config.stash[_CHROMIUM] = exc


@pytest.fixture(scope="session")
def chromium_path(request: pytest.FixtureRequest) -> str:
    """The Chromium the browser tests drive; the tests are skipped, saying why, only when
    none is installed and none can be (see tests/chromium.py)."""
    found = request.config.stash.get(_CHROMIUM, None)
    if found is None:  # asked for in a way collection did not see
        try:
            found = chromium.ensure_chromium()
        except (chromium.ChromiumMissing, chromium.ChromiumMisconfigured) as exc:
            found = exc
    if isinstance(found, chromium.ChromiumMissing):
        pytest.skip(str(found))
    if isinstance(found, BaseException):
        pytest.fail(str(found))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the embedded servers the session started, before pytest reports."""
    servers.stop_embedded_servers()
