"""The runtime's asyncio connections pack commands in C (hiredis) byte for byte as redis-py's
own Python packer does, and refuse what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from waasp.runtime.broker.client import connect

ARGUMENTS: list[tuple[Any, ...]] = [
    ("SET", "key", "value"),
    ("SCRIPT LOAD", "return 1"),  # a two-word command name is sent as two words
    (b"CONFIG GET", b"maxmemory-policy"),
    ("EVALSHA", "a" * 40, 3, "k1", "k2", "k3", *(f"1700000000000-{i}" for i in range(500))),
    ("ZADD", "z", 0.1, "a", 1e20, "b", -0.0, "c", float("inf"), "d", 10**30, "e"),
    ("SET", "k", b"\x00\xff" * 5000),  # past redis-py's buffer cutoff
    ("SET", "k", memoryview(b"view"), "é"),
    ("SET", "k", bytearray(b"array")),
]


def runtime_connection() -> Any:
    client = connect("redis://127.0.0.1:1/0")
    return client.connection_pool.connection_class()


@pytest.mark.parametrize("args", ARGUMENTS, ids=range(len(ARGUMENTS)))
def test_packed_as_redis_py_packs(args: tuple[Any, ...]) -> None:
    ours = b"".join(runtime_connection().pack_command(*args))
    theirs = b"".join(bytes(part) for part in Connection().pack_command(*args))
    assert ours == theirs


@pytest.mark.parametrize("bad", [True, None, object()])
def test_refuses_what_redis_py_refuses(bad: object) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        runtime_connection().pack_command("SET", "k", bad)
