"""Encoding and decoding messages and records: garbage is a DecodeError, never a crash."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waasp.runtime.message import (
    DeadLetterRecord,
    DecodeError,
    EncodeError,
    RemoteError,
    TaskMessage,
    TaskMeta,
    decode_dead_letter,
    decode_message,
    decode_meta,
    encode_dead_letter,
    encode_message,
    encode_meta,
    new_task_id,
)
from waasp.runtime.states import FAILURE, SUCCESS

MESSAGE = TaskMessage(
    id="t1",
    task="m.f",
    args=(1, "two", [3], {"four": 4}),
    kwargs={"k": None},
    queue="high",
    retries=2,
    enqueued_at=1700000000.5,
    eta=1700000001.25,
    headers={"replayed": 1},
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=6,
)


def test_message_round_trip() -> None:
    """A message decodes to what was encoded."""
    assert decode_message(encode_message(MESSAGE)) == MESSAGE


def test_payload_has_full_field_names() -> None:
    """Payload fields have full names; eta and headers only when set."""
    data = orjson.loads(encode_message(MESSAGE))
    assert set(data) == {
        "id",
        "task",
        "args",
        "kwargs",
        "queue",
        "retries",
        "enqueued_at",
        "eta",
        "headers",
    }
    plain = orjson.loads(encode_message(TaskMessage(id="a", task="b")))
    assert "eta" not in plain and "headers" not in plain


def test_unencodable_arguments_raise_encode_error() -> None:
    """Arguments JSON cannot hold raise EncodeError naming the task (never pickle)."""
    with pytest.raises(EncodeError, match=r"m\.f"):
        encode_message(TaskMessage(id="a", task="m.f", args=(object(),)))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        b"{}",
        b'{"id": 1}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":true}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":-1}',
        b'{"id":"a","task":"b","args":{},"kwargs":{},"queue":"q","retries":0}',
        b'{"id":"a","task":"b","args":[],"kwargs":[],"queue":"q","retries":0}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":0,"eta":"x"}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":0,"headers":[]}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":0,"enqueued_at":"soon"}',
        b'{"id":"a","task":"b","args":[],"kwargs":{},"queue":"q","retries":0,"enqueued_at":[]}',
    ],
)
def test_malformed_messages_raise_decode_error(raw: bytes) -> None:
    """Malformed or ill-typed payloads raise DecodeError."""
    with pytest.raises(DecodeError):
        decode_message(raw)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(raw: bytes) -> None:
    """Any bytes either decode or raise DecodeError: never another exception."""
    with contextlib.suppress(DecodeError):
        decode_message(raw)


@settings(max_examples=500)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: json_values
            for name in (
                "id",
                "task",
                "args",
                "kwargs",
                "queue",
                "retries",
                "enqueued_at",
                "eta",
                "headers",
            )
        },
    )
)
def test_arbitrary_json_objects_raise_only_decode_error(data: dict[str, Any]) -> None:
    """Any JSON object with any field types either decodes or raises DecodeError."""
    try:
        message = decode_message(orjson.dumps(data))
    except DecodeError:
        return
    assert decode_message(encode_message(message)) == message


def test_meta_round_trip() -> None:
    """A result record decodes to what was encoded, error included."""
    meta = TaskMeta(
        id="t", state=FAILURE, name="m.f", error=RemoteError("E", "msg", "tb"), retries=1
    )
    assert decode_meta(encode_meta(meta)) == meta
    ok = TaskMeta(id="t", state=SUCCESS, result={"a": [1]})
    assert decode_meta(encode_meta(ok)) == ok


@settings(max_examples=300)
@given(st.binary(max_size=100) | json_values.map(orjson.dumps))
def test_arbitrary_result_records_raise_only_decode_error(raw: bytes) -> None:
    """A corrupt result record raises DecodeError, never another exception."""
    with contextlib.suppress(DecodeError):
        decode_meta(raw)


def test_dead_letter_round_trip() -> None:
    """A dead letter's fields decode back, with its message."""
    message, details = encode_dead_letter(
        DeadLetterRecord("failed", encode_message(MESSAGE), RemoteError("E", "m", "tb"), 2, 3, "w1")
    )
    letter = decode_dead_letter("high", "high:1-0", {b"message": message, b"details": details})
    assert (letter.reason, letter.retries, letter.deliveries, letter.worker) == (
        "failed",
        2,
        3,
        "w1",
    )
    assert letter.error == RemoteError("E", "m", "tb")
    assert letter.message == MESSAGE


def test_dead_letter_with_garbage_message_is_shown() -> None:
    """A dead letter holding undecodable bytes still decodes, with no message."""
    letter = decode_dead_letter("q", "q:1-0", {b"message": b"\xff", b"details": b"nope"})
    assert letter.message is None
    assert letter.reason == "unknown"


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(
            st.none(),
            st.integers(-(2**63), 2**63 - 1),
            st.text(),
            st.lists(st.integers(-(2**63), 2**63 - 1)),
            st.booleans(),
        ),
    )
)
def test_dead_letter_with_odd_details_decodes(details: dict[str, object]) -> None:
    """A dead letter whose details hold unexpected types is still shown, never raises."""
    fields = {b"message": b"not json", b"details": orjson.dumps(details)}
    letter = decode_dead_letter("default", "default:1-0", fields)
    assert letter.id == "default:1-0"
    assert letter.message is None


def test_task_ids_are_version_4_uuids() -> None:
    """Task ids are RFC 4122 version-4 UUID strings, all different."""
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    for task_id in list(ids)[:50]:
        parsed = uuid.UUID(task_id)
        assert str(parsed) == task_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
