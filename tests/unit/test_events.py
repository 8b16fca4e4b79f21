"""Task events are noted cheaply and aggregated once per write (no Redis here)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson

from waasp.runtime.broker import Broker, EventBatch, RawDelivery, SettleOp
from waasp.runtime.broker.events import EVENTS_PER_ENTRY, record_events_args
from waasp.runtime.config import Config
from waasp.runtime.message import (
    DeadLetterRecord,
    RemoteError,
    ResultRecord,
    TaskMessage,
    TaskMeta,
    encode_message,
    max_deliveries_letter,
)
from waasp.runtime.states import FAILURE, STARTED, SUCCESS
from waasp.runtime.worker.events import EventRecorder
from waasp.runtime.worker.outcomes import Outcome, max_deliveries_outcome

DELIVERY = RawDelivery("default", "1-0", b"")
REGISTERED = frozenset({"app.ok", "app.boom", "app.poison"})


def recorder(interval: float = 60.0) -> EventRecorder:
    """A recorder whose broker is never used by these tests."""
    return EventRecorder(cast(Broker, None), Config(), "worker-1", REGISTERED, interval)


def success(task_id: str, name: str = "app.ok") -> Outcome:
    """A SUCCESS outcome with its record."""
    meta = TaskMeta(id=task_id, state=SUCCESS, name=name, queue="default")
    return Outcome(SUCCESS, SettleOp.ack("1-0"), ResultRecord(meta))


def parse(batch: EventBatch) -> dict[str, Any]:
    """Split record_events.lua's ARGV for ``batch`` back into its parts."""
    args = record_events_args(batch, Config(), "worker-1")
    n_counts, n_buckets, n_sums, n_tp, n_events, n_failures, n_names, n_cf, n_tf = (
        int(x) for x in args[5:14]
    )
    rest = args[14:]

    def pairs(n: int) -> dict[str, Any]:
        nonlocal rest
        taken, rest = rest[: 2 * n], rest[2 * n :]
        return dict(zip(taken[::2], taken[1::2], strict=True))

    counts, buckets, sums, throughput = (
        pairs(n_counts),
        pairs(n_buckets),
        pairs(n_sums),
        pairs(n_tp),
    )
    events = [orjson.loads(x) for x in rest[:n_events]]
    failures = [orjson.loads(x) for x in rest[n_events : n_events + n_failures]]
    rest = rest[n_events + n_failures :]
    assert len(rest) == n_names + n_cf + n_tf
    return {
        "counts": counts,
        "buckets": buckets,
        "sums": sums,
        "throughput": throughput,
        "events": events,
        "failures": failures,
        "names": rest[:n_names],
        "fields": (rest[n_names : n_names + n_cf], rest[n_names + n_cf :]),
    }


async def test_counts_buckets_and_capped_entries() -> None:
    """Counters count every task; a stream entry keeps only the newest tasks of its kind."""
    noted = recorder()
    total = EVENTS_PER_ENTRY + 20
    for i in range(total):
        noted.started(TaskMeta(id=str(i), state=STARTED, name="app.ok"))
        noted.finished(DELIVERY, success(str(i)), 0.003)
    batch = noted.take(force=True)
    assert batch is not None
    found = parse(batch)
    assert found["counts"] == {"app.ok|started": total, "app.ok|succeeded": total}
    assert found["buckets"] == {"app.ok|0.005": total}
    assert abs(float(found["sums"]["app.ok|sum"]) - 0.003 * total) < 1e-6
    assert found["throughput"] == {"succeeded": total}
    (entry,) = found["events"]
    assert entry["event"] == "succeeded" and entry["more"] == 20
    assert [t["id"] for t in entry["tasks"]] == [str(i) for i in range(20, total)]
    assert found["failures"] == []


async def test_failures_keep_their_traceback_apart() -> None:
    """A failure is counted, shown without its traceback, and kept with it in the failures."""
    noted = recorder()
    error = RemoteError("ValueError", "kaput", "Traceback ...\nValueError: kaput")
    letter = DeadLetterRecord("failed", b"{}", error, 0, 1, "worker-1")
    meta = TaskMeta(id="t1", state=FAILURE, name="app.boom", error=error, queue="default")
    noted.finished(
        DELIVERY, Outcome(FAILURE, SettleOp.dead("1-0", letter), ResultRecord(meta)), 0.2
    )
    batch = noted.take(force=True)
    assert batch is not None
    found = parse(batch)
    assert found["counts"] == {"app.boom|failed": 1}
    (entry,) = found["events"]
    assert entry["event"] == "failed"
    assert entry["tasks"][0]["error"] == {"type": "ValueError", "message": "kaput"}
    (failure,) = found["failures"]
    assert failure["error"]["traceback"].endswith("ValueError: kaput")
    assert (failure["reason"], failure["worker"]) == ("failed", "worker-1")


async def test_undecodable_deliveries_are_dead_lettered_as_unknown() -> None:
    """A delivery with no record and no decodable message still counts, as "unknown"."""
    noted = recorder()
    letter = DeadLetterRecord("undecodable", b"\xff", RemoteError("DecodeError", "bad"), 0, 1)
    outcome = Outcome(FAILURE, SettleOp.dead("1-0", letter))
    noted.finished(RawDelivery("default", "1-0", b"\xff"), outcome, 0.001)
    batch = noted.take(force=True)
    assert batch is not None
    found = parse(batch)
    assert found["counts"] == {"<unknown>|dead_lettered": 1}
    assert found["buckets"] == {}  # it never ran as a task


async def test_unregistered_names_are_counted_as_unknown_and_shown_as_sent() -> None:
    """Tasks no worker registered share the ``<unknown>`` counters, run times included, but
    events and failures keep the name the message gave."""
    noted = recorder()
    for i in range(3):
        meta = TaskMeta(id=f"j{i}", state=FAILURE, name=f"junk.{i}", queue="default")
        letter = DeadLetterRecord("unknown_task", b"{}", RemoteError("NotRegistered", "no"))
        outcome = Outcome(FAILURE, SettleOp.dead("1-0", letter), ResultRecord(meta))
        noted.finished(DELIVERY, outcome, None)
    noted.finished(DELIVERY, success("s1", name="junk.ok"), 0.002)
    noted.finished(DELIVERY, success("s2"), 0.002)
    batch = noted.take(force=True)
    assert batch is not None
    found = parse(batch)
    assert found["counts"] == {
        "<unknown>|dead_lettered": 3,
        "<unknown>|succeeded": 1,
        "app.ok|succeeded": 1,
    }
    assert set(found["buckets"]) == {"<unknown>|0.005", "app.ok|0.005"}
    assert found["names"] == ["<unknown>", "app.ok"]
    count_fields, time_fields = found["fields"]
    assert "|dead_lettered" in count_fields and "|sum" in time_fields
    assert {f["task"] for f in found["failures"]} == {"junk.0", "junk.1", "junk.2"}


async def test_a_batch_waits_for_its_interval() -> None:
    """Nothing is taken before the interval has passed; then the recorder says it is due."""
    noted = recorder(interval=0.05)
    woken = asyncio.Event()
    noted.on_due = woken.set
    assert noted.take() is None  # nothing noted
    noted.finished(DELIVERY, success("a"), 0.001)
    assert noted.pending and noted.take() is None
    await asyncio.wait_for(woken.wait(), timeout=2)
    assert noted.due
    batch = noted.take()
    assert batch is not None and not noted.pending and not noted.due


async def test_a_dead_letter_of_too_many_starts_is_recorded_and_counted() -> None:
    """A delivery dead-lettered instead of starting once too often gets a FAILURE record and
    a dead_lettered event, both with the one max-deliveries error."""
    raw = encode_message(TaskMessage(id="t9", task="app.poison"))
    delivery = RawDelivery("default", "1-0", raw, deliveries=6)
    outcome = max_deliveries_outcome(delivery, "worker-1", 5)
    expected = max_deliveries_letter(raw, 5, 6, "worker-1").error
    assert outcome.record is not None and outcome.record.meta.state == FAILURE
    assert outcome.record.meta.error == expected
    assert expected.message == "started 5 times without finishing"
    noted = recorder()
    noted.finished(delivery, outcome, None)
    batch = noted.take(force=True)
    assert batch is not None
    found = parse(batch)
    assert found["counts"] == {"app.poison|dead_lettered": 1}
    (failure,) = found["failures"]
    assert (failure["reason"], failure["deliveries"]) == ("max_deliveries", 6)
    assert failure["error"] == expected.as_dict()
