"""The tasks the fault suite's worker processes run (``-A tests.faults.chaos_app:runtime``).

Every execution is written down in a ledger on a Redis server that no fault touches
(``WAASP_TEST_LEDGER_URL``, the session's server), keyed by task index and attempt, so a test
can count executions that a killed worker or a killed broker would otherwise take with it.
"""

from __future__ import annotations

import asyncio
import os

from redis.asyncio import Redis

from waasp.runtime import Runtime, Task

runtime = Runtime("waasp")
runtime.conf.update(
    task_default_retry_delay=0.2,
    task_max_retries=3,
    result_expires=3600,
    worker_shutdown_timeout=5,
)


class Ledger:
    """Counts executions per ``index:attempt`` and per worker, on the ledger server."""

    def __init__(self) -> None:
        self._client: Redis | None = None

    @staticmethod
    def key(prefix: str) -> str:
        """Hash of ``index:attempt`` -> executions."""
        return f"{prefix}:ledger"

    @staticmethod
    def workers_key(prefix: str) -> str:
        """Hash of worker name -> executions."""
        return f"{prefix}:ledger:workers"

    @property
    def client(self) -> Redis:
        """The ledger's client, connected on first use."""
        if self._client is None:
            self._client = Redis.from_url(os.environ["WAASP_TEST_LEDGER_URL"])
        return self._client

    async def note(self, index: int, attempt: int, worker: str) -> None:
        """Count one execution."""
        prefix = runtime.conf.key_prefix
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(self.key(prefix), f"{index}:{attempt}", 1)
            pipe.hincrby(self.workers_key(prefix), worker, 1)
            await pipe.execute()


ledger = Ledger()


@runtime.task(bind=True)
async def chaos(self: Task, index: int, seconds: float = 0.0, failures: int = 0) -> int:
    """Count the execution, take ``seconds``, and ask for a retry on the first ``failures``
    attempts (more than ``task_max_retries`` ends FAILURE)."""
    await ledger.note(index, self.request.retries, self.request.hostname or "?")
    if seconds:
        await asyncio.sleep(seconds)
    if self.request.retries < failures:
        raise self.retry(countdown=0.2)
    return index
