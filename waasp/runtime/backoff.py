"""Retry delays: a pure function, as Celery computes them."""

from __future__ import annotations

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
