"""The arguments and answers of the queue transitions' scripts: a send made once, the
verdict of a start, how a finished delivery leaves its stream."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from waasp.runtime.message import DeadLetterRecord, TaskMessage, encode_dead_letter, encode_message


@dataclass(frozen=True, slots=True)
class SendOnce:
    """Enqueue only if no send of ``task_id`` is remembered; remember this one ``ttl_ms``."""

    task_id: str
    ttl_ms: int


class StartVerdict(IntEnum):
    """Whether a delivery's task may start: the codes of ``lua/start.lua``."""

    RUN = 0  # its start is counted
    LOST = 1  # this worker no longer owns the entry: another worker claimed it
    DEAD = 2  # it started broker_max_deliveries times without finishing: dead-lettered
    # Decided before the script, by the start gate's admission (never counted as a start):
    DEFERRED = 3  # over a rate limit or a concurrency cap: moved to the delay set
    PAUSED = 4  # its queue is paused: handed back to the stream


@dataclass(frozen=True, slots=True)
class StartReply:
    """The answer of ``Broker.start``: a verdict per entry, whether each task id asked about
    is revoked, and the server's clock (epoch seconds)."""

    verdicts: list[StartVerdict]
    revoked: list[bool]
    now: float


@dataclass(frozen=True, slots=True)
class Promoted:
    """The answer of ``Broker.promote``: how many messages moved, microseconds until the
    next one is to move (-1: none is delayed), and the server's clock (epoch seconds)."""

    moved: int
    wait_us: int
    now: float


class SettleKind(StrEnum):
    """How a finished delivery leaves its stream: the verbs of ``lua/settle.lua``."""

    ACK = "ack"  # done: acknowledge and delete
    RETRY = "retry"  # acknowledge, and schedule the next attempt
    DEAD = "dead"  # acknowledge, and dead-letter
    DEFER = "defer"  # acknowledge, and hold the message (not started) in the delay set


@dataclass(frozen=True, slots=True)
class SettleOp:
    """How one finished (or deferred) delivery leaves the stream; build it with ``ack``,
    ``retry``, ``defer``, ``dead``."""

    kind: SettleKind
    entry_id: str
    next_attempt: TaskMessage | None = None  # RETRY; DEFER: the message itself
    delay_ms: int = 0  # RETRY, DEFER
    dead_letter: DeadLetterRecord | None = None  # DEAD

    @classmethod
    def ack(cls, entry_id: str) -> SettleOp:
        """Acknowledge and delete the entry."""
        return cls(SettleKind.ACK, entry_id)

    @classmethod
    def retry(cls, entry_id: str, next_attempt: TaskMessage, delay_ms: int) -> SettleOp:
        """Acknowledge, and run ``next_attempt`` after ``delay_ms``."""
        return cls(SettleKind.RETRY, entry_id, next_attempt=next_attempt, delay_ms=delay_ms)

    @classmethod
    def defer(cls, entry_id: str, message: TaskMessage, delay_ms: int) -> SettleOp:
        """Acknowledge, and hold ``message`` in the delay set for ``delay_ms``: it did not
        start (a rate limit or a concurrency cap), so it is neither a retry nor a start."""
        return cls(SettleKind.DEFER, entry_id, next_attempt=message, delay_ms=delay_ms)

    @classmethod
    def dead(cls, entry_id: str, letter: DeadLetterRecord) -> SettleOp:
        """Acknowledge, and dead-letter the message."""
        return cls(SettleKind.DEAD, entry_id, dead_letter=letter)

    def script_args(self) -> list[Any]:
        """This op's four ARGV values of ``lua/settle.lua``."""
        if self.next_attempt is not None:
            return [self.kind, self.entry_id, encode_message(self.next_attempt), self.delay_ms]
        if self.dead_letter is not None:
            return [self.kind, self.entry_id, *encode_dead_letter(self.dead_letter)]
        return [self.kind, self.entry_id, b"", b""]
