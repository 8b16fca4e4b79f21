"""Find the Redis and PostgreSQL servers the tests talk to.

Order: an explicit ``WAASP_TEST_REDIS_URL`` / ``WAASP_TEST_DATABASE_URL``, then the
servers on the default local ports, then (on a machine with neither) the embedded servers
that ``waasp`` itself can start.
"""

from __future__ import annotations

import os
import socket

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_url() -> str:
    """Return the URL of a reachable Redis server for the tests."""
    if url := os.environ.get("WAASP_TEST_REDIS_URL"):
        return url
    if port_open("127.0.0.1", 6379):
        return DEFAULT_REDIS_URL
    raise RuntimeError("no Redis reachable on 127.0.0.1:6379 and WAASP_TEST_REDIS_URL is unset")


def database_url() -> str:
    """Return the URL of a reachable PostgreSQL server for the tests."""
    if url := os.environ.get("WAASP_TEST_DATABASE_URL"):
        return url
    if port_open("127.0.0.1", 5432):
        return DEFAULT_DATABASE_URL
    raise RuntimeError(
        "no PostgreSQL reachable on 127.0.0.1:5432 and WAASP_TEST_DATABASE_URL is unset"
    )
