"""How Redis errors are classified, and how an outage is logged (no Redis involved)."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    ClusterError,
    ConnectionError,
    DataError,
    MasterDownError,
    MovedError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)
from structlog.testing import capture_logs

from waasp.runtime.broker import errors, outages
from waasp.runtime.broker.errors import Fault, GroupMissing, RedisRefused, classify, reply_code
from waasp.runtime.errors import NotReplicated

UNBLOCKED_REPLICA = (
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)
SCRIPT = " script: 0c8e2c4f32ece42e736d358c06f72c7fe8e4b223, on @user_script:12."


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (ConnectionError("Connection refused"), Fault.OUTAGE),
        (TimeoutError("Timeout reading from socket"), Fault.OUTAGE),
        (BusyLoadingError("Redis is loading the dataset in memory"), Fault.OUTAGE),
        (OSError("Network is unreachable"), Fault.OUTAGE),
        (OutOfMemoryError("command not allowed", status_code="OOM"), Fault.OUTAGE),
        (OutOfMemoryError("command not allowed ..." + SCRIPT, status_code="OOM"), Fault.OUTAGE),
        (ResponseError("NOREPLICAS Not enough good replicas to write."), Fault.OUTAGE),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."), Fault.OUTAGE),
        (ResponseError("BUSY Redis is busy running a script."), Fault.OUTAGE),
        (ResponseError("MASTERDOWN Link with MASTER is down"), Fault.OUTAGE),
        (ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"), Fault.OUTAGE),
        (ResponseError("CLUSTERDOWN The cluster is down"), Fault.OUTAGE),
        (MovedError("3999 127.0.0.1:7001"), Fault.OUTAGE),
        (AskError("3999 127.0.0.1:7001"), Fault.OUTAGE),
        (
            ReadOnlyError("You can't write against a read only replica.", status_code="READONLY"),
            Fault.REPLICA,
        ),
        (ResponseError(UNBLOCKED_REPLICA), Fault.REPLICA),
        (ResponseError("UNBLOCKED the stream key no longer exists"), Fault.GROUP_MISSING),
        (ResponseError("UNBLOCKED client unblocked via CLIENT UNBLOCK"), Fault.OUTAGE),
        (
            ResponseError("NOGROUP No such key 'q' or consumer group 'workers'" + SCRIPT),
            Fault.GROUP_MISSING,
        ),
        (GroupMissing("NOGROUP"), Fault.GROUP_MISSING),
        (
            ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Fault.BUG,
        ),
        (ResponseError("BUSYGROUP Consumer Group name already exists"), Fault.BUG),
        (
            ResponseError(
                "user_script:1: attempt to perform arithmetic on a nil value" + SCRIPT,
                status_code="ERR",
            ),
            Fault.BUG,
        ),
        (ResponseError("unknown command 'XFOO'", status_code="ERR"), Fault.BUG),
        (DataError("Invalid input of type: 'NoneType'"), Fault.BUG),
        (ValueError("not a Redis error"), Fault.BUG),
    ],
)
def test_classify(error: BaseException, fault: Fault) -> None:
    """Each reply or client error maps to what a loop does about it."""
    assert classify(error) is fault


def test_pipeline_errors_are_classified_by_the_reply_inside() -> None:
    """redis-py rewrites a pipeline command's error message; the reply's code still counts."""
    refused = ResponseError(
        'Command # 1 (SET p:result:1 {"id": 1}) of pipeline caused error: '
        "('NOREPLICAS Not enough good replicas to write.',)"
    )
    wrong = ResponseError(
        "Command # 2 (EVALSHA f 3 a b c) of pipeline caused error: "
        "('WRONGTYPE Operation against a key holding the wrong kind of value',)"
    )
    assert reply_code(refused) == "NOREPLICAS" and classify(refused) is Fault.OUTAGE
    assert reply_code(wrong) == "WRONGTYPE" and classify(wrong) is Fault.BUG


def test_redis_6_script_errors_are_classified_by_the_call_inside() -> None:
    """Redis 6.2 wraps a script's failed call as "ERR Error running script ...": the code of
    the call inside counts."""
    nogroup = ResponseError(
        "Error running script (call to f_3f1b): @user_script:7: @user_script: 7: "
        "-NOGROUP No such key 'q' or consumer group 'workers'",
        status_code="ERR",
    )
    oom = ResponseError(
        "ERR Error running script (call to f_3f1b): @user_script:9: -OOM command not allowed"
    )
    assert classify(nogroup) is Fault.GROUP_MISSING
    assert classify(oom) is Fault.OUTAGE
    assert errors.is_nogroup(nogroup)


async def test_an_outage_is_logged_once_each_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several loops failing many times log one redis_unavailable; once all work again and
    stay quiet, one redis_recovered; a READONLY reply drops the pooled connections."""
    monkeypatch.setattr(outages, "RECOVERY_QUIET", 0.05)
    dropped: list[str] = []

    async def drop() -> None:
        dropped.append("pool")

    down = outages.Outages([drop], worker="w")
    reader, settler = down.guard("reader"), down.guard("settler")
    for guard in (reader, settler):
        guard.backoff.initial = 0.001
    with capture_logs() as logs:
        await reader.failed(ConnectionError("refused"))
        await settler.failed(OutOfMemoryError("no memory", status_code="OOM"))
        await reader.failed(ReadOnlyError("read only", status_code="READONLY"))
        reader.worked()
        assert down.down  # the settler still fails
        settler.worked()
        await asyncio.sleep(0.06)
        reader.worked()
        settler.worked()
    events = [e["event"] for e in logs if e["log_level"] != "debug"]
    assert events == ["redis_unavailable", "redis_recovered"]
    assert logs[0]["worker"] == "w" and logs[0]["loop"] == "reader"
    assert dropped == ["pool"]
    assert not down.down


async def test_a_refusal_waiting_cannot_cure_raises() -> None:
    """A programming error is not retried: the guard raises RedisRefused naming the loop."""
    guard = outages.Outages().guard("promoter")
    with pytest.raises(RedisRefused, match="promoter: Redis refused: WRONGTYPE"):
        await guard.failed(ResponseError("WRONGTYPE Operation against a key"))


async def test_a_swallowed_cancellation_is_noticed() -> None:
    """A loop whose command swallowed its cancellation stops at the guard's next check."""
    guard = outages.Outages().guard("leases")
    reached = asyncio.Event()

    async def loop() -> None:
        while True:
            try:
                reached.set()
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass  # what asyncio.wait_for can do to a command whose reply just came
            guard.worked()

    task = asyncio.create_task(loop())
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)


@pytest.mark.parametrize(
    "exc",
    [
        ClusterDownError("The cluster is down"),
        MasterDownError("Link with MASTER is down"),
        TryAgainError("Multiple keys request during rehashing of slot"),
        ClusterError("TTL exhausted."),
        RedisClusterException("Redis Cluster cannot be connected."),
        SlotNotCoveredError("Slot 42 is not covered by the cluster."),
        NotReplicated("0 of the 1 replicas required acknowledged the write"),
    ],
)
def test_cluster_and_replication_errors_are_outages(exc: BaseException) -> None:
    """A cluster mid-failover, a node gone, too few replicas: every loop waits and retries."""
    assert classify(exc) is Fault.OUTAGE
    assert isinstance(exc, errors.ANY_REDIS_ERROR)
