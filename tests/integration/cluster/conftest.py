"""The runtime against a real 3-master Redis Cluster: the runtime suite's fixtures, bound to
one cluster this test session starts (and stops)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import Cluster, start_cluster
from tests.integration.runtime.conftest import (  # noqa: F401 - fixtures used by the tests
    cli_env,
    runtime,
    workers,
)
from waasp.runtime.broker.client import connect_blocking


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Three masters on free loopback ports, joined into one cluster."""
    directory = Path(tempfile.mkdtemp(prefix="waasp-cluster-"))
    with start_cluster(directory) as started:
        yield started


@pytest.fixture(scope="session")
def redis_url(cluster: Cluster) -> str:
    """The cluster's URL, in place of the single test server's."""
    return cluster.url


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys are deleted from every master afterwards."""
    prefix = f"wc{uuid.uuid4().hex[:12]}"
    yield prefix
    client = connect_blocking(redis_url)
    try:
        for key in list(client.scan_iter(match=f"{prefix}:*", count=1000)):
            client.delete(key)
    finally:
        client.close()
