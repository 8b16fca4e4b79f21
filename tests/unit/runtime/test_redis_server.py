"""Which Redis servers the runtime works with, and how their stream errors read (no Redis)."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError

from waasp.runtime.broker.errors import is_nogroup
from waasp.runtime.broker.server import MIN_REDIS_VERSION, check_redis_version, redis_version
from waasp.runtime.errors import TaskRuntimeError, UnsupportedRedis

SHA = "f_3f1c9cbd0e1b4c5a6d7e8f901234567890abcdef"


@pytest.mark.parametrize(
    "message",
    [
        "NOGROUP No such key 'q' or consumer group 'workers' in XREADGROUP with GROUP option",
        # Redis 7 passes a script's error reply through, with the script appended
        "NOGROUP No such key 'q' or consumer group 'workers' script: 3f1c, on @user_script:8.",
        # Redis 6.2 wraps it (redis-py strips the leading "ERR ")
        f"Error running script (call to {SHA}): @user_script:8: @user_script: 8: "
        "-NOGROUP No such key 'q' or consumer group 'workers'",
        f"Error running script (call to {SHA}): @user_script:8: NOGROUP No such key 'q'",
        f"ERR Error running script (call to {SHA}): @user_script:8: NOGROUP No such key 'q'",
    ],
)
def test_nogroup_is_recognised_from_commands_and_scripts(message: str) -> None:
    """A missing stream or group is recognised however the server words it."""
    assert is_nogroup(ResponseError(message))


@pytest.mark.parametrize(
    "message",
    [
        "BUSYGROUP Consumer Group name already exists",
        f"Error running script (call to {SHA}): @user_script:3: OOM command not allowed",
        "user_script:1: attempt to perform arithmetic on a nil value (NOGROUPS) script: 1",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ],
)
def test_other_errors_are_not_nogroup(message: str) -> None:
    """Other errors, in scripts or not, are not taken for a missing group."""
    assert not is_nogroup(ResponseError(message))


@pytest.mark.parametrize(
    ("info", "version"),
    [
        ({"redis_version": "7.0.15"}, (7, 0, 15)),
        ({"redis_version": "6.2.0"}, (6, 2, 0)),
        ({"redis_version": "7.2.4", "valkey_version": "8.0.1"}, (7, 2, 4)),
        ({"redis_version": "255.255.255"}, (255, 255, 255)),
    ],
)
def test_supported_servers_pass(info: dict[str, str], version: tuple[int, ...]) -> None:
    """Redis (or Valkey, which reports a compatible redis_version) 6.2 and later pass."""
    assert redis_version(info) == version
    check_redis_version(info)


@pytest.mark.parametrize("found", ["6.0.16", "5.0.14", "6.1.9"])
def test_older_servers_are_refused_in_one_line(found: str) -> None:
    """A server older than 6.2 is refused with one line naming both versions."""
    with pytest.raises(UnsupportedRedis) as refused:
        check_redis_version({"redis_version": found})
    message = str(refused.value)
    assert "\n" not in message
    assert found in message and "6.2" in message
    assert isinstance(refused.value, TaskRuntimeError)
    assert MIN_REDIS_VERSION == (6, 2)


def test_unreadable_version_is_refused() -> None:
    """An INFO reply without a readable redis_version is refused, not guessed."""
    with pytest.raises(UnsupportedRedis):
        check_redis_version({})
    with pytest.raises(UnsupportedRedis):
        check_redis_version({"redis_version": "unknown"})
