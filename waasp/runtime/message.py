"""Task messages, result records and dead letters, and their JSON encoding.

The one module that turns payloads into bytes and back (orjson; never pickle).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from waasp.runtime.errors import TaskRuntimeError
from waasp.runtime.states import TaskState, state_of


class EncodeError(TaskRuntimeError, TypeError):
    """A payload (arguments or result) cannot be encoded as JSON."""


class DecodeError(TaskRuntimeError, ValueError):
    """Bytes from Redis are not a valid message or record."""


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """One request to run a task: what travels through the stream."""

    id: str
    task: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    retries: int = 0
    enqueued_at: float = 0.0
    eta: float | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    expires: float | None = None  # epoch seconds: not started by then, it is not run
    priority: int = 0

    def next_attempt(self, eta: float | None) -> TaskMessage:
        """The message for the attempt after this one."""
        # Headers of its own: a task_retry receiver may add to them (a trace context).
        return replace(self, retries=self.retries + 1, eta=eta, headers=dict(self.headers))


@dataclass(frozen=True, slots=True)
class RemoteError:
    """An exception as it crossed the wire: type, message, traceback."""

    type: str
    message: str
    traceback: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The JSON shape every record and view uses for an error."""
        return {"type": self.type, "message": self.message, "traceback": self.traceback}


@dataclass(frozen=True, slots=True)
class TaskMeta:
    """A task's state and outcome as stored on the result backend."""

    id: str
    # A ``TaskState``, or a custom state a task set with ``update_state`` ("PROGRESS"), whose
    # ``result`` is the meta it passed.
    state: TaskState | str
    name: str | None = None
    result: Any = None
    error: RemoteError | None = None
    retries: int = 0
    queue: str | None = None
    worker: str | None = None
    started_at: float | None = None
    date_done: float | None = None
    # The delivery that wrote the record: its stream entry and how often that entry had been
    # delivered. The result backend never lets an earlier delivery replace a later one's record.
    entry_id: str | None = None
    deliveries: int = 0


def new_task_id() -> str:
    """A random RFC 4122 version-4 UUID string, at a third of ``str(uuid.uuid4())``'s cost
    (task ids are made on the enqueue hot path)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _dumps(value: Any, what: str) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise EncodeError(f"{what} is not JSON-serializable: {exc}") from exc


def encode_value(value: Any, what: str) -> bytes:
    """Encode one value (a chord member's result) as JSON; EncodeError if it cannot be."""
    return _dumps(value, what)


def decode_value(raw: bytes) -> Any:
    """Decode a value ``encode_value`` encoded; DecodeError if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"value is not JSON: {exc}") from exc


def encode_message(message: TaskMessage) -> bytes:
    """Encode a task message for the stream. A priority other than 0 is the first field, so
    that ``lua/promote.lua`` reads it from the start of the bytes (``{"priority":N,``) without
    decoding them; priority 0 is left out."""
    payload: dict[str, Any] = {
        "id": message.id,
        "task": message.task,
        "args": message.args,
        "kwargs": message.kwargs,
        "queue": message.queue,
        "retries": message.retries,
        "enqueued_at": message.enqueued_at,
    }
    if message.eta is not None:
        payload["eta"] = message.eta
    if message.headers:
        payload["headers"] = message.headers
    if message.expires is not None:
        payload["expires"] = message.expires
    raw = _dumps(payload, f"arguments of {message.task}")
    if message.priority:
        # Spliced in front of the encoded object (it has fields: "id" at least).
        return b'{"priority":%d,' % message.priority + raw[1:]
    return raw


def message_id_marker(task_id: str) -> bytes:
    """Bytes every encoded message of ``task_id`` contains, to find it without decoding each
    (a match may still be another field's value: decode it to be sure)."""
    return orjson.dumps({"id": task_id})[1:-1]


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise DecodeError(f"message field {name!r} is missing or of the wrong type")
    return value


def decode_message(raw: bytes) -> TaskMessage:
    """Decode a stream payload, raising DecodeError on anything malformed."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("message is not a JSON object")
    retries = _field(data, "retries", int)
    if retries < 0:
        raise DecodeError("message field 'retries' is negative")
    eta, expires = data.get("eta"), data.get("expires")
    headers = data.get("headers", {})
    if any(
        v is not None and not isinstance(v, int | float) for v in (eta, expires)
    ) or not isinstance(headers, dict):
        raise DecodeError("message field 'eta', 'expires' or 'headers' is of the wrong type")
    # Checked like the others: float("soon") would raise ValueError, and a decode must raise
    # nothing but DecodeError, or a poison message would stop the executor that read it.
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 9:
        raise DecodeError("message field 'priority' is not an int from 0 to 9")
    enqueued_at = data.get("enqueued_at")
    if enqueued_at is None:
        enqueued_at = 0.0
    if not isinstance(enqueued_at, int | float) or isinstance(enqueued_at, bool):
        raise DecodeError("message field 'enqueued_at' is of the wrong type")
    return TaskMessage(
        id=_field(data, "id", str),
        task=_field(data, "task", str),
        args=tuple(_field(data, "args", list)),
        kwargs=_field(data, "kwargs", dict),
        queue=_field(data, "queue", str),
        retries=retries,
        enqueued_at=float(enqueued_at),
        eta=float(eta) if eta is not None else None,
        headers=headers,
        expires=float(expires) if expires is not None else None,
        priority=priority,
    )


def encode_meta(meta: TaskMeta) -> bytes:
    """Encode a result record; a result JSON cannot hold raises EncodeError."""
    payload: dict[str, Any] = {
        "id": meta.id,
        "state": str(meta.state),
        "name": meta.name,
        "result": meta.result,
        "retries": meta.retries,
        "queue": meta.queue,
        "worker": meta.worker,
        "started_at": meta.started_at,
        "date_done": meta.date_done,
        "error": None if meta.error is None else meta.error.as_dict(),
    }
    if meta.entry_id is not None:
        payload["entry_id"] = meta.entry_id
        payload["deliveries"] = meta.deliveries
    return _dumps(payload, f"result of {meta.name}")


def decode_meta(raw: bytes) -> TaskMeta:
    """Decode a result record."""
    try:
        data = orjson.loads(raw)
        error = data.get("error")
        return TaskMeta(
            id=data["id"],
            state=state_of(data["state"]),
            name=data.get("name"),
            result=data.get("result"),
            error=RemoteError(error["type"], error["message"], error.get("traceback"))
            if error
            else None,
            retries=int(data.get("retries") or 0),
            queue=data.get("queue"),
            worker=data.get("worker"),
            started_at=data.get("started_at"),
            date_done=data.get("date_done"),
            entry_id=data.get("entry_id"),
            deliveries=int(data.get("deliveries") or 0),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DecodeError(f"result record is malformed: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A record to store, with its bytes when they are known already (the executor encodes a
    SUCCESS record to learn whether its result is JSON, and keeps the bytes)."""

    meta: TaskMeta
    encoded: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A dead letter to write: the message as it was delivered, and why it died."""

    reason: str
    raw_message: bytes
    error: RemoteError
    retries: int = 0
    deliveries: int = 0
    worker: str | None = None
    failed_at: float = field(default_factory=time.time)


# Why a message was dead-lettered, where two modules must agree on it (``Reject`` and
# ``dlq.send`` give reasons of their own).
TASK_FAILED = "failed"  # it ran, and failed for good
MAX_DELIVERIES = "max_deliveries"  # it kept killing its workers
# Why a task ended REVOKED (the message of its record's error, type REVOKED_ERROR).
REVOKED_ERROR = "TaskRevoked"
REVOKED_REASON = "revoked"  # revoked before it started
TERMINATED_REASON = "terminated"  # revoked with terminate=True while it ran
EXPIRED_REASON = "expired"  # not started before its expires deadline
# A %-format of the start count: lua/start.lua, which dead-letters it, formats it too.
MAX_DELIVERIES_MESSAGE = "started %d times without finishing"


def max_deliveries_letter(
    raw_message: bytes, starts: int, deliveries: int, worker: str | None
) -> DeadLetterRecord:
    """The dead letter of a message that started ``starts`` times (in ``deliveries``
    deliveries) without finishing: it keeps killing its workers."""
    error = RemoteError("MaxDeliveriesExceeded", MAX_DELIVERIES_MESSAGE % starts)
    return DeadLetterRecord(MAX_DELIVERIES, raw_message, error, 0, deliveries, worker)


def encode_dead_letter(letter: DeadLetterRecord) -> tuple[bytes, bytes]:
    """The ``message`` and ``details`` fields a dead-letter stream entry is written with."""
    details = {
        "reason": letter.reason,
        "error": letter.error.as_dict(),
        "retries": letter.retries,
        "deliveries": letter.deliveries,
        "failed_at": letter.failed_at,
        "worker": letter.worker,
    }
    return letter.raw_message, orjson.dumps(details)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry of a queue's dead-letter stream, as read back."""

    id: str
    queue: str
    reason: str
    raw_message: bytes
    error: RemoteError | None
    retries: int
    deliveries: int
    failed_at: float
    worker: str | None = None

    @property
    def message(self) -> TaskMessage | None:
        """The original message, or None when it could not be decoded."""
        try:
            return decode_message(self.raw_message)
        except DecodeError:
            return None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _str_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def decode_dead_letter(queue: str, dead_id: str, fields: dict[bytes, bytes]) -> DeadLetter:
    """Decode a dead-letter stream entry (tolerant: it is shown to humans)."""
    raw = fields.get(b"message", b"")
    try:
        details = orjson.loads(fields.get(b"details", b"{}"))
    except orjson.JSONDecodeError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    error = details.get("error")
    return DeadLetter(
        id=dead_id,
        queue=queue,
        reason=str(details.get("reason", "unknown")),
        raw_message=raw,
        error=RemoteError(
            str(error.get("type")), str(error.get("message")), _str_field(error, "traceback")
        )
        if isinstance(error, dict)
        else None,
        retries=int(_number(details.get("retries"))),
        deliveries=int(_number(details.get("deliveries"))),
        failed_at=_number(details.get("failed_at")),
        worker=_str_field(details, "worker"),
    )
