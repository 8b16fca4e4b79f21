"""How Redis failures look to the runtime: one classification for every loop and command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from waasp.runtime.errors import TaskRuntimeError

# What a lost, refused or stalled connection raises: the loops retry these with backoff. A
# restarted Redis may also answer LOADING or BUSY for a moment, which redis-py raises as
# BusyLoadingError (a ConnectionError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
# The server answered, with an error (a script error, OOM, READONLY on a replica...).
REDIS_REFUSALS: tuple[type[BaseException], ...] = (ResponseError,)
# Anything Redis or its client can raise.
ANY_REDIS_ERROR: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisError)


_NOGROUP_IN_SCRIPT = re.compile(r"(?:ERR )?Error running script\b.*[\s:\-]NOGROUP\b", re.DOTALL)


class GroupMissing(TaskRuntimeError):
    """A queue's stream or consumer group is gone (Redis restarted without its data)."""


def is_nogroup(exc: ResponseError) -> bool:
    """Tell whether Redis answered that the stream or its consumer group is missing, from a
    command or from inside a script."""
    message = str(exc)
    # Redis 7 passes a script's error reply through as it is; Redis 6.2 wraps it in
    # "ERR Error running script (call to f_…): @user_script:N: … NOGROUP …" (redis-py strips
    # the "ERR ").
    return message.startswith("NOGROUP") or _NOGROUP_IN_SCRIPT.match(message) is not None


@contextmanager
def group_errors() -> Iterator[None]:
    """Raise GroupMissing where Redis answers NOGROUP."""
    try:
        yield
    except ResponseError as exc:
        if is_nogroup(exc):
            raise GroupMissing(str(exc)) from exc
        raise
