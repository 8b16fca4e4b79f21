"""Guarantee 5 against hostile input: arbitrary bytes in stream entries reach a live worker
process, which dead-letters each one and keeps serving; payloads are never unpickled."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    WorkerFactory,
    WorkerProcess,
    stream_state,
    wait_until,
)
from waasp.runtime import Runtime
from waasp.runtime.message import DecodeError, decode_message

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
MESSAGE_KEYS = ["id", "task", "args", "kwargs", "queue", "retries", "enqueued_at", "eta", "headers"]
message_like = st.dictionaries(st.sampled_from(MESSAGE_KEYS), json_values, min_size=3)
entries = st.one_of(
    st.binary(max_size=200).map(lambda raw: {b"message": raw}),
    json_values.map(lambda value: {b"message": orjson.dumps(value)}),
    message_like.map(lambda value: {b"message": orjson.dumps(value)}),
    st.dictionaries(st.binary(min_size=1, max_size=10), st.binary(max_size=50), min_size=1),
)


def runnable(fields: dict[bytes, bytes]) -> bool:
    """Tell whether an entry is a valid message of a registered task (it would run)."""
    try:
        message = decode_message(fields.get(b"message", b""))
    except DecodeError:
        return False
    return message.task in apps.runtime.tasks


@pytest.fixture
def worker(workers: WorkerFactory) -> WorkerProcess:
    """One worker process on the default queue."""
    return workers.start(concurrency=2)


async def dead_letters(runtime: Runtime) -> int:
    """Dead letters across queues."""
    return sum((await runtime.dlq.count()).values())


@settings(
    max_examples=150,
    deadline=None,
    # One worker process serves every example on purpose: it must survive them all.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=entries)
async def test_arbitrary_stream_entries_are_dead_lettered_and_the_worker_serves_on(
    runtime: Runtime, worker: WorkerProcess, fields: dict[bytes, bytes]
) -> None:
    """Arbitrary bytes, JSON and message-shaped garbage XADDed to a live worker's stream:
    each is dead-lettered at once, nothing stays pending, the worker lives."""
    assume(runnable(fields) is False)
    before = await dead_letters(runtime)
    stream = runtime.keys.queue("default").stream
    await runtime.broker.client.xadd(stream, dict(fields.items()))

    async def dead_lettered() -> bool:
        return await dead_letters(runtime) == before + 1 and await stream_state(runtime) == (0, 0)

    await wait_until(dead_lettered, timeout=10, interval=0.005)
    assert worker.alive(), worker.output()


async def test_worker_runs_tasks_after_garbage(runtime: Runtime, worker: WorkerProcess) -> None:
    """After a burst of garbage entries a real task still runs on the same worker."""
    stream = runtime.keys.queue("default").stream
    for raw in (b"\x80\x04", b"{", b"[]", b"null", os.urandom(64)):
        await runtime.broker.client.xadd(stream, {b"message": raw})
    assert await (await apps.add.delay(2, 3)).get(timeout=15) == 5
    assert worker.alive(), worker.output()


@pytest.mark.parametrize(
    "due", [b"\xa3\xed", b"1e5", b"-5", b"9" * 400, b"9" * 5000, b"4102444800000000"]
)
async def test_a_hostile_due_field_neither_stops_nor_stalls_the_worker(
    runtime: Runtime, worker: WorkerProcess, due: bytes
) -> None:
    """A ``due`` field (promote.lua writes it: the time to hold an entry until) that is not a
    plausible due time, or is one far off, on a real task and on garbage: the task runs (held
    at most briefly), the garbage is dead-lettered, and the worker lives."""
    sent = await apps.add.apply_async((2, 3), queue="parked")  # no worker reads "parked"
    [(_, fields)] = await runtime.broker.client.xrange(runtime.keys.queue("parked").stream)
    stream = runtime.keys.queue("default").stream
    await runtime.broker.client.xadd(stream, {b"message": fields[b"message"], b"due": due})
    await runtime.broker.client.xadd(stream, {b"message": b"\x80", b"due": due})
    assert await sent.get(timeout=15) == 5

    async def dead_lettered() -> bool:
        return await dead_letters(runtime) == 1 and await stream_state(runtime) == (0, 0)

    await wait_until(dead_lettered)
    assert worker.alive(), worker.output()


class _Payload:
    """What an attacker pickles: unpickling it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


async def test_pickle_payload_is_dead_lettered_never_unpickled(
    runtime: Runtime, worker: WorkerProcess, tmp_path: Path
) -> None:
    """A pickle whose unpickling would run code is dead-lettered as undecodable and never
    unpickled: its side effect does not happen."""
    marker = tmp_path / "unpickled"
    stream = runtime.keys.queue("default").stream
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        await runtime.broker.client.xadd(
            stream, {b"message": pickle.dumps(_Payload(marker), protocol=protocol)}
        )

    async def all_dead() -> bool:
        return await dead_letters(runtime) == 3 and await stream_state(runtime) == (0, 0)

    await wait_until(all_dead, timeout=15)
    assert [x.reason for x in await runtime.dlq.list()] == ["undecodable"] * 3
    assert not marker.exists(), "a payload was unpickled"
    assert worker.alive(), worker.output()
