"""The dead letters of every queue: list, replay, delete, purge, and dead-letter by hand.

Each queue has its own dead-letter stream (so settling and dead-lettering stay one atomic
step on one Cluster slot). A dead letter's id is ``QUEUE:ENTRY_ID``. Entries stay until
replayed or purged, or until ``dlq_max_len`` newer ones push them out (logged and counted).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from waasp.runtime.broker.dead import DeadLetterPage, dead_letter_id, split_dead_letter_id
from waasp.runtime.errors import DeadLetterNotFound, TaskRuntimeError
from waasp.runtime.keys import check_queue_name
from waasp.runtime.message import DeadLetter, RemoteError, TaskMessage

if TYPE_CHECKING:
    from waasp.runtime.broker.results import ResultBackend
    from waasp.runtime.broker.streams import Broker

    BuildMessage = Callable[..., TaskMessage]


class DeadLetters:
    """Dead-letter operations over every queue of one key prefix."""

    def __init__(
        self, broker: Broker, results: ResultBackend, build_message: BuildMessage, max_len: int
    ) -> None:
        self.broker = broker
        self.results = results
        self.build_message = build_message
        self.max_len = max_len  # dead letters kept per queue

    async def _queues(self, queue: str | None) -> builtins.list[str]:
        return [check_queue_name(queue)] if queue else await self.broker.known_queues()

    async def count(self, queue: str | None = None) -> dict[str, int]:
        """Dead letters per queue."""
        return await self.broker.dead.count(await self._queues(queue))

    async def page(
        self, queue: str | None = None, limit: int = 50, offset: int = 0
    ) -> DeadLetterPage:
        """Dead letters, newest first, paged across queues, with their total."""
        return await self.broker.dead.page(await self._queues(queue), limit, offset)

    async def list(
        self, queue: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[DeadLetter]:
        """Dead letters, newest first, paged across queues."""
        return (await self.page(queue, limit, offset)).letters

    async def get(self, dead_id: str) -> DeadLetter:
        """One dead letter."""
        letter = await self.broker.dead.get(*split_dead_letter_id(dead_id))
        if letter is None:
            raise DeadLetterNotFound(f"no dead letter {dead_id}")
        return letter

    async def replay(self, dead_id: str) -> str:
        """Put a dead letter's message back in its queue (retries reset, replay recorded);
        return the task id."""
        letter = await self.get(dead_id)
        message = letter.message
        if message is None:
            raise TaskRuntimeError(f"dead letter {dead_id} holds no decodable message")
        queue, entry_id = split_dead_letter_id(dead_id)
        replays = int(message.headers.get("replayed", 0)) + 1
        again = replace(
            message,
            retries=0,
            eta=None,
            expires=None,  # a replay is asked for now: the old deadline no longer applies
            queue=queue,
            headers={**message.headers, "replayed": replays},
        )
        # Forget the FAILURE first: once re-queued, a worker may store the new outcome. And a
        # revoke of it: the replay is the later wish.
        await self.results.forget(message.id)
        await self.broker.revokes.discard(message.id)
        if not await self.broker.dead.replay(queue, entry_id, again):
            raise DeadLetterNotFound(f"no dead letter {dead_id}")
        return message.id

    async def replay_all(self, queue: str | None = None) -> builtins.list[str]:
        """Replay every decodable dead letter; return the task ids."""
        replayed: builtins.list[str] = []
        for name in await self._queues(queue):
            async for entry_id in self.broker.dead.entry_ids(name):
                try:
                    replayed.append(await self.replay(dead_letter_id(name, entry_id)))
                except TaskRuntimeError:
                    continue
        return replayed

    async def delete(self, dead_id: str) -> None:
        """Delete one dead letter."""
        if not await self.broker.dead.delete(*split_dead_letter_id(dead_id)):
            raise DeadLetterNotFound(f"no dead letter {dead_id}")

    async def purge(self, queue: str | None = None, older_than: float | None = None) -> int:
        """Delete dead letters (only those older than ``older_than`` seconds, if given)."""
        removed = 0
        for name in await self._queues(queue):
            removed += await self.broker.dead.purge(name, older_than)
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
        error_record = RemoteError("ManualDeadLetter", error or reason)
        dead_id = await self.broker.dead.send(message, reason, error_record)
        await self.broker.dead.trim(message.queue, self.max_len)
        await self.broker.register_queues([message.queue])
        return dead_id
