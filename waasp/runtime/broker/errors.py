"""How Redis failures look to the runtime: one classification for every loop and command.

``classify`` sorts what Redis or its client raised into what a loop does about it: wait and
retry (a lost connection, and replies such as OOM, LOADING, BUSY, MISCONF, NOREPLICAS that
end when the server recovers, or MOVED while a cluster's slots change hands), drop the pooled
connections (READONLY: the server turned replica), recreate the stream and group (NOGROUP),
or stop, because waiting cannot cure it (a script's own error, WRONGTYPE, an unknown
command): a programming error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from redis.exceptions import (
    AskError,
    ClusterError,
    InvalidResponse,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from waasp.runtime.errors import NotReplicated, TaskRuntimeError

# What a lost, refused or stalled connection raises: the loops retry these with backoff. A
# restarted Redis may also answer LOADING for a moment, which redis-py raises as
# BusyLoadingError (a ConnectionError). A cluster client raises RedisClusterException when
# no node answers, or its slot map lacks a slot (SlotNotCoveredError), and ClusterError when a
# command found no node to take it in its retries: a failover under way.
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    RedisClusterException,
    ClusterError,
)
# The server answered, with an error (a script error, OOM, READONLY on a replica...).
REDIS_REFUSALS: tuple[type[BaseException], ...] = (ResponseError,)

# Replies that say the server cannot serve the command now but will once it recovers: out of
# memory under noeviction, loading its data, running a long script, unable to persist, short
# of replicas, its master or cluster down, a transaction aborted by one of these.
TRANSIENT_CODES = frozenset(
    {
        "OOM",
        "LOADING",
        "BUSY",
        "MISCONF",
        "NOREPLICAS",
        "MASTERDOWN",
        "TRYAGAIN",
        "CLUSTERDOWN",
        "EXECABORT",
    }
)
_KNOWN_CODES = TRANSIENT_CODES | {"READONLY", "NOGROUP", "UNBLOCKED"}
# Redis 6.2 reports the failed call of a script as "ERR Error running script (call to
# f_<sha>): @user_script:<line>: -<CODE> ...": the code inside is what counts.
_SCRIPT_CODE = re.compile(r"(?:^|[\s:])-?(" + "|".join(sorted(_KNOWN_CODES)) + r")\b")
# redis-py rewrites the error of a pipeline's command as "Command # <n> (<command>) of
# pipeline caused error: ('<reply>',)".
_PIPELINE_PREFIX = re.compile(r"^Command # \d+ \(.*?\) of pipeline caused error: \(?['\"]?", re.S)


class Fault(StrEnum):
    """What a loop does about a Redis error."""

    OUTAGE = "outage"  # wait and retry
    REPLICA = "replica"  # the server turned replica: drop the pooled connections, wait, retry
    GROUP_MISSING = "group_missing"  # recreate the stream and its consumer group, retry
    BUG = "bug"  # waiting cannot cure it: stop


class GroupMissing(TaskRuntimeError):
    """A queue's stream or consumer group is gone (Redis restarted without its data)."""


# Anything Redis or its client can raise, and the broker's GroupMissing.
# NotReplicated: too few replicas acknowledged a write in time (broker_min_replicas); a
# loop waits for them as for an outage.
ANY_REDIS_ERROR: tuple[type[BaseException], ...] = (
    *REDIS_ERRORS,
    RedisError,
    GroupMissing,
    NotReplicated,
)


class RedisRefused(TaskRuntimeError):
    """Redis refused a command for a reason that waiting cannot cure: a programming error,
    or a key of the runtime's holding something else."""


def reply_code(exc: ResponseError) -> str:
    """The error code of a reply (``OOM``, ``NOGROUP``...; ``ERR`` for a generic error)."""
    # redis-py strips the code of the replies it maps to classes (OOM, READONLY...) from the
    # message and keeps it here.
    code = getattr(exc, "status_code", None)
    if code and code != "ERR":
        return str(code)
    message = str(exc)
    if prefix := _PIPELINE_PREFIX.match(message):
        message = message[prefix.end() :]
    message = message.removeprefix("ERR ")
    first = message.split(" ", 1)[0]
    if first.isalpha() and first.isupper():
        return first
    if message.startswith("Error running script") and (found := _SCRIPT_CODE.search(message)):
        return found.group(1)
    return "ERR"


def classify(exc: BaseException) -> Fault:
    """What a loop does about ``exc``, raised by a Redis command or its client."""
    if isinstance(exc, GroupMissing):
        return Fault.GROUP_MISSING
    # CLUSTERDOWN, MASTERDOWN, TRYAGAIN; too few replicas acknowledged a write; MOVED or ASK
    # where the runtime sends to a master itself (replication.py): the slot map changed (a
    # failover), and the client reloads it before the retry.
    if isinstance(exc, ClusterError | TryAgainError | NotReplicated | AskError):
        return Fault.OUTAGE
    if isinstance(exc, ResponseError):
        code = reply_code(exc)
        if code == "NOGROUP":
            return Fault.GROUP_MISSING
        if code == "READONLY":
            return Fault.REPLICA
        if code == "UNBLOCKED":
            # A blocked read ended by the server: its stream or group was deleted, the server
            # turned replica (a failover, REPLICAOF), or CLIENT UNBLOCK ... ERROR.
            message = str(exc)
            if "no longer exists" in message:
                return Fault.GROUP_MISSING
            return Fault.REPLICA if "replica" in message else Fault.OUTAGE
        return Fault.OUTAGE if code in TRANSIENT_CODES else Fault.BUG
    if isinstance(exc, (*REDIS_ERRORS, InvalidResponse)):
        return Fault.OUTAGE
    return Fault.BUG


def describe(exc: BaseException) -> str:
    """The error as one line: the reply's code and message, or the exception's type."""
    if isinstance(exc, ResponseError):
        code, message = reply_code(exc), str(exc)
        return message if message.startswith(code) else f"{code} {message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def is_nogroup(exc: ResponseError) -> bool:
    """Tell whether Redis answered that the stream or its consumer group is missing."""
    return classify(exc) is Fault.GROUP_MISSING


@contextmanager
def group_errors() -> Iterator[None]:
    """Raise GroupMissing where Redis answers NOGROUP (or ends a blocked read because the
    stream or group was deleted)."""
    try:
        yield
    except ResponseError as exc:
        if is_nogroup(exc):
            raise GroupMissing(str(exc)) from exc
        raise


def check_cancelled() -> None:
    """Raise CancelledError if the current task is being cancelled.

    A command cancelled just as its reply arrives can return normally (Python 3.11's
    ``asyncio.wait_for``, which redis-py awaits, drops such a cancellation), so a loop calls
    this after each command to stop on the first request, not the second.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError
