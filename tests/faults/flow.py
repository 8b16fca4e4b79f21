"""A flow of chaos tasks and its accounting: what was sent, what ran, what ended how.

A flow is a list of jobs (mixed durations, some retrying, some failing for good, some
delayed). ``Flow.send`` enqueues them and remembers which enqueues returned; ``Flow.audit``
reads the executions from the ledger and the final states from the result backend and tells
what was lost and how many executions were duplicates.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tests.faults import chaos_app
from waasp.runtime import FAILURE, SUCCESS, Runtime
from waasp.runtime.broker.errors import ANY_REDIS_ERROR, REDIS_ERRORS, is_nogroup
from waasp.runtime.keys import GROUP
from waasp.runtime.message import DecodeError, decode_meta

MAX_RETRIES = 3  # chaos_app's task_max_retries


@dataclass(frozen=True, slots=True)
class Job:
    """One chaos task: how long it takes, how often it asks for a retry, its delay."""

    index: int
    seconds: float = 0.0
    failures: int = 0
    countdown: float | None = None

    @property
    def attempts(self) -> int:
        """Executions it needs: one per attempt, retries capped by max_retries."""
        return min(self.failures, MAX_RETRIES) + 1

    @property
    def final(self) -> str:
        """The state it must end in."""
        return SUCCESS.value if self.failures <= MAX_RETRIES else FAILURE.value


def mixed_jobs(total: int, rng: random.Random, *, start: int = 0) -> list[Job]:
    """``total`` jobs: mostly instant, some sleeping, ~10% retrying, ~1% failing for good,
    ~10% delayed, a few outliving the visibility timeout."""
    jobs = []
    for index in range(start, start + total):
        roll = rng.random()
        if roll < 0.005:
            jobs.append(Job(index, seconds=2.5))  # longer than the visibility timeout
        elif roll < 0.015:
            jobs.append(Job(index, failures=9))  # exhausts its retries: FAILURE, dead letter
        elif roll < 0.115:
            jobs.append(Job(index, failures=rng.randint(1, 2)))
        elif roll < 0.215:
            jobs.append(Job(index, countdown=round(rng.uniform(0.1, 3.0), 3)))
        elif roll < 0.415:
            jobs.append(Job(index, seconds=round(rng.uniform(0.002, 0.03), 4)))
        else:
            jobs.append(Job(index))
    return jobs


@dataclass
class Audit:
    """What a flow came to."""

    sent: int
    finished: int
    lost: list[int]
    wrong_state: list[int]
    duplicates: int
    unexpected_attempts: list[str]
    dead_letters: int
    expected_dead_letters: int
    executions: int

    def figures(self) -> dict[str, int]:
        """The counts worth publishing."""
        return {
            "tasks": self.sent,
            "finished": self.finished,
            "lost": len(self.lost),
            "duplicates": self.duplicates,
            "executions": self.executions,
            "dead_letters": self.dead_letters,
        }


@dataclass
class Flow:
    """Jobs sent through a runtime, with the ledger that counts their executions."""

    runtime: Runtime
    ledger: Redis
    ids: dict[int, str] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    returned_at: dict[int, float] = field(default_factory=dict)
    failed_sends: int = 0

    async def send(self, jobs: list[Job], batch: int = 500) -> list[Job]:
        """Enqueue jobs (immediate ones in bulk); record the ones whose enqueue returned and
        return the ones whose enqueue raised (they may or may not have landed)."""
        task = chaos_app.chaos
        refused: list[Job] = []
        for job in [j for j in jobs if j.countdown is not None]:
            try:
                result = await task.apply_async(
                    (job.index, job.seconds, job.failures), countdown=job.countdown
                )
            except ANY_REDIS_ERROR:  # lost connection, or Redis said no (OOM, READONLY...)
                refused.append(job)  # did not return: no promise was made
                continue
            self._returned(job, result.id)
        immediate = [j for j in jobs if j.countdown is None]
        for i in range(0, len(immediate), batch):
            chunk = immediate[i : i + batch]
            try:
                results = await self.runtime.send_many(
                    [task.s(j.index, j.seconds, j.failures) for j in chunk]
                )
            except ANY_REDIS_ERROR:
                refused += chunk
                continue
            for job, result in zip(chunk, results, strict=True):
                self._returned(job, result.id)
        self.failed_sends += len(refused)
        return refused

    async def send_until_taken(self, jobs: list[Job], renumber: int = 1_000_000) -> None:
        """Send jobs, re-sending refused ones under new indices (a refused send may have
        landed, and its executions must not count as duplicates of the re-sent one)."""
        while jobs := await self.send(jobs):
            await asyncio.sleep(0.05)
            jobs = [replace(j, index=j.index + renumber) for j in jobs]

    def _returned(self, job: Job, task_id: str) -> None:
        self.ids[job.index] = task_id
        self.jobs[job.index] = job
        self.returned_at[job.index] = time.monotonic()

    async def states(self) -> dict[int, str]:
        """Each sent job's stored state (PENDING when none is stored)."""
        client = self.runtime.results.client
        keys = self.runtime.keys
        out: dict[int, str] = {}
        indices = list(self.ids)
        for i in range(0, len(indices), 1000):
            chunk = indices[i : i + 1000]
            raws = await client.mget([keys.result(self.ids[j]) for j in chunk])
            for index, raw in zip(chunk, raws, strict=True):
                state = "PENDING"
                if raw is not None:
                    try:
                        state = str(decode_meta(raw).state)
                    except DecodeError:
                        state = "CORRUPT"
                out[index] = state
        return out

    async def finished(self) -> int:
        """How many sent jobs reached a final state."""
        return sum(s in (SUCCESS.value, FAILURE.value) for s in (await self.states()).values())

    async def wait_finished(self, timeout: float, *, settle: bool = True) -> None:
        """Wait until every sent job is final (then, with ``settle``, the queue is empty)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                done = await self.finished() == len(self.ids)
                if done and settle:
                    done = await queue_empty(self.runtime)
            except REDIS_ERRORS:
                done = False
            if done:
                return
            if time.monotonic() > deadline:
                states = Counter((await self.states()).values())
                pytest.fail(f"not finished within {timeout}s: states {dict(states)}")
            await asyncio.sleep(0.25)

    async def executions(self) -> Counter[str]:
        """Executions per ``index:attempt``, from the ledger."""
        raw = await self.ledger.hgetall(chaos_app.Ledger.key(self.runtime.conf.key_prefix))
        return Counter({k.decode(): int(v) for k, v in raw.items()})

    async def audit(self) -> Audit:
        """Count what was lost and doubled."""
        states = await self.states()
        runs = await self.executions()
        expected = {f"{j.index}:{a}" for j in self.jobs.values() for a in range(j.attempts)}
        sent_indices = {str(i) for i in self.ids}
        missing = {k for k in expected if runs[k] == 0}
        lost = sorted(
            i
            for i, s in states.items()
            if s not in (SUCCESS.value, FAILURE.value) or f"{i}:0" in missing
        )
        wrong = sorted(i for i, s in states.items() if i not in lost and s != self.jobs[i].final)
        # Executions of jobs whose enqueue did not return (a send interrupted by a fault)
        # may or may not exist; they are neither promised nor counted.
        ours = {k: v for k, v in runs.items() if k.split(":")[0] in sent_indices}
        unexpected = sorted(k for k in ours if k not in expected)
        # Dead letters of the sends that returned: a refused send may have landed too, and a
        # failing one then leaves a dead letter of its own, promised to nobody.
        returned = set(self.ids.values())
        letters = await self.runtime.dlq.list(limit=len(self.ids) + 1000)
        dead = sum(1 for d in letters if (m := d.message) is not None and m.id in returned)
        return Audit(
            sent=len(self.ids),
            finished=sum(s in (SUCCESS.value, FAILURE.value) for s in states.values()),
            lost=lost,
            wrong_state=wrong,
            duplicates=sum(v - 1 for k, v in ours.items() if k in expected and v > 1),
            unexpected_attempts=unexpected,
            dead_letters=dead,
            expected_dead_letters=sum(j.final == FAILURE.value for j in self.jobs.values()),
            executions=sum(ours.values()),
        )


async def produce(flow: Flow, jobs: list[Job], chunk: int = 100, pause: float = 0.02) -> None:
    """Send jobs a chunk at a time, the way a busy API would, re-sending what a fault
    refused (as a caller whose enqueue raised would)."""
    for i in range(0, len(jobs), chunk):
        await flow.send_until_taken(jobs[i : i + chunk])
        await asyncio.sleep(pause)


async def queue_empty(runtime: Runtime, queue: str = "default") -> bool:
    """Stream empty, nothing pending, nothing delayed."""
    client = runtime.broker.client
    q = runtime.keys.queue(queue)
    try:
        if await client.xlen(q.stream) or await client.zcard(q.delayed):
            return False
    except REDIS_ERRORS:  # a pooled connection to the server before its restart
        return False
    try:
        pending = await client.xpending(q.stream, GROUP)
    except REDIS_ERRORS:
        raise
    except Exception:  # no group: nothing was ever read
        return True
    return int(pending["pending"]) == 0


async def held_by(runtime: Runtime, consumer: str, queue: str = "default") -> int:
    """How many entries a consumer holds (pending for it); none before any worker made the
    group (a worker killed while the others still start up)."""
    try:
        rows = await runtime.broker.client.xpending_range(
            runtime.keys.queue(queue).stream, GROUP, "-", "+", 100_000, consumername=consumer
        )
    except ResponseError as exc:
        if not is_nogroup(exc):
            raise
        return 0
    return len(rows)
