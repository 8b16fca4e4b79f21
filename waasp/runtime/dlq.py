"""The dead-letter streams: list, replay, delete, purge, and dead-letter by hand.

Each queue has its own dead-letter stream (so settling and dead-lettering stay one atomic
step on one Cluster slot). A dead letter's id is ``QUEUE:ENTRY_ID``. Entries are never
trimmed: they stay until replayed or purged.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from waasp.runtime.errors import TaskRuntimeError
from waasp.runtime.keys import check_queue_name
from waasp.runtime.message import (
    DeadLetter,
    RemoteError,
    TaskMessage,
    dead_letter_fields,
    decode_dead_letter,
    encode_message,
)
from waasp.runtime.stream_ids import parse_entry_id

if TYPE_CHECKING:
    from waasp.runtime.broker.results import ResultBackend
    from waasp.runtime.broker.streams import Broker

    BuildMessage = Callable[..., TaskMessage]


class DeadLetterNotFound(TaskRuntimeError, LookupError):
    """No dead letter has that id (it was replayed or purged, or never existed)."""


def split_id(dead_id: str) -> tuple[str, str]:
    """``"default:1700000000000-0"`` -> ``("default", "1700000000000-0")``."""
    queue, sep, entry_id = dead_id.rpartition(":")
    if not sep or not queue or not entry_id:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} is not of the form QUEUE:ENTRY")
    try:
        check_queue_name(queue)
    except TaskRuntimeError:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} names no valid queue") from None
    if parse_entry_id(entry_id) is None:
        raise DeadLetterNotFound(f"dead letter id {dead_id!r} has no valid entry id")
    return queue, entry_id


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class DeadLetters:
    """Dead-letter operations over every queue of one key prefix."""

    def __init__(self, broker: Broker, results: ResultBackend, build_message: BuildMessage) -> None:
        self.broker = broker
        self.results = results
        self.build_message = build_message

    async def _queues(self, queue: str | None) -> builtins.list[str]:
        return [check_queue_name(queue)] if queue else await self.broker.known_queues()

    async def count(self, queue: str | None = None) -> dict[str, int]:
        """Dead letters per queue."""
        queues = await self._queues(queue)
        client = self.broker.client
        async with client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.xlen(self.broker.keys.queue(name).dead)
            counts = await pipe.execute()
        return dict(zip(queues, (int(c) for c in counts), strict=True))

    async def list(
        self, queue: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        """Dead letters, newest first, paged across queues."""
        client = self.broker.client
        wanted = offset + limit
        letters: list[DeadLetter] = []
        for name in await self._queues(queue):
            entries = await client.xrevrange(
                self.broker.keys.queue(name).dead, "+", "-", count=wanted
            )
            letters += [
                decode_dead_letter(name, f"{name}:{_text(i)}", fields) for i, fields in entries
            ]
        letters.sort(key=lambda letter: _order(letter.id), reverse=True)
        return letters[offset:wanted]

    async def get(self, dead_id: str) -> DeadLetter:
        """One dead letter."""
        queue, entry_id = split_id(dead_id)
        entries = await self.broker.client.xrange(
            self.broker.keys.queue(queue).dead, entry_id, entry_id
        )
        if not entries:
            raise DeadLetterNotFound(f"no dead letter {dead_id}")
        return decode_dead_letter(queue, dead_id, entries[0][1])

    async def replay(self, dead_id: str) -> str:
        """Put a dead letter's message back in its queue (retries reset, replay recorded);
        return the task id."""
        letter = await self.get(dead_id)
        message = letter.message
        if message is None:
            raise TaskRuntimeError(f"dead letter {dead_id} holds no decodable message")
        queue, entry_id = split_id(dead_id)
        replays = int(message.headers.get("replayed", 0)) + 1
        again = replace(
            message,
            retries=0,
            eta=None,
            queue=queue,
            headers={**message.headers, "replayed": replays},
        )
        # Forget the FAILURE first: once re-queued, a worker may store the new outcome.
        await self.results.forget(message.id)
        q = self.broker.keys.queue(queue)
        new_id = await self.broker.scripts["replay"](
            keys=[q.dead, q.stream], args=[entry_id, encode_message(again)]
        )
        if not new_id:
            raise DeadLetterNotFound(f"no dead letter {dead_id}")
        return message.id

    async def replay_all(self, queue: str | None = None) -> builtins.list[str]:
        """Replay every decodable dead letter; return the task ids."""
        replayed: builtins.list[str] = []
        for name in await self._queues(queue):
            stream = self.broker.keys.queue(name).dead
            start = "-"
            while True:
                entries = await self.broker.client.xrange(stream, start, "+", count=500)
                for entry_id, _ in entries:
                    try:
                        replayed.append(await self.replay(f"{name}:{_text(entry_id)}"))
                    except TaskRuntimeError:
                        continue
                if len(entries) < 500:
                    break
                start = "(" + _text(entries[-1][0])
        return replayed

    async def delete(self, dead_id: str) -> None:
        """Delete one dead letter."""
        queue, entry_id = split_id(dead_id)
        removed = await self.broker.client.xdel(self.broker.keys.queue(queue).dead, entry_id)
        if not removed:
            raise DeadLetterNotFound(f"no dead letter {dead_id}")

    async def purge(self, queue: str | None = None, older_than: float | None = None) -> int:
        """Delete dead letters (only those older than ``older_than`` seconds, if given)."""
        client = self.broker.client
        removed = 0
        for name in await self._queues(queue):
            dead = self.broker.keys.queue(name).dead
            if older_than is None:
                removed += int(await client.xlen(dead))
                await client.delete(dead)
            else:
                server_s, micros = await client.time()
                cutoff_ms = int((server_s + micros / 1e6 - older_than) * 1000)
                removed += int(await client.xtrim(dead, minid=str(cutoff_ms), approximate=False))
        return removed

    async def send(
        self,
        task: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        reason: str = "manual",
        error: str | None = None,
        queue: str | None = None,
    ) -> str:
        """Dead-letter a task call by hand (the spec's ``send_to_dlq``); return its id."""
        message = self.build_message(task, args, kwargs, queue=queue)
        fields = dead_letter_fields(
            reason,
            encode_message(message),
            RemoteError("ManualDeadLetter", error or reason),
            0,
            0,
            None,
        )
        entry_id = await self.broker.client.xadd(
            self.broker.keys.queue(message.queue).dead,
            dict(zip(fields[::2], fields[1::2], strict=True)),
        )
        await self.broker.register_queues([message.queue])
        return f"{message.queue}:{_text(entry_id)}"


def _order(dead_id: str) -> tuple[int, int]:
    ms, _, seq = dead_id.rpartition(":")[2].partition("-")
    return int(ms), int(seq or 0)
