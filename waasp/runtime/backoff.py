"""Delays: the retry countdown of a task (a pure function, as Celery computes it) and the
reconnect backoff of the worker's loops."""

from __future__ import annotations

import asyncio
import random


def exponential_backoff(
    retries: int,
    factor: float = 1.0,
    maximum: float = 600.0,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> float:
    """Return the countdown for the next attempt after ``retries`` earlier ones.

    ``factor * 2**retries`` capped at ``maximum``; with ``jitter``, a uniform draw in
    ``[0, countdown]`` ("full jitter") so a herd of failures does not retry in lockstep.
    """
    countdown = min(maximum, factor * float(2 ** max(retries, 0)))
    if jitter:
        countdown = float((rng or random).uniform(0, countdown))
    return max(countdown, 0.0)


class Backoff:
    """Exponential delays with jitter, from ``initial`` up to ``maximum`` seconds."""

    def __init__(self, initial: float = 0.05, maximum: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def reset(self) -> None:
        """Forget earlier failures after a success."""
        self.failures = 0

    async def sleep(self) -> None:
        """Wait before the next attempt."""
        delay = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
