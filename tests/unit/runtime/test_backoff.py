"""The retry backoff: a pure function."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from waasp.runtime.backoff import exponential_backoff


def test_doubles_per_retry_without_jitter() -> None:
    """Without jitter the countdown is factor * 2**retries."""
    assert [exponential_backoff(n, 0.5, 600, jitter=False) for n in range(4)] == [
        0.5,
        1.0,
        2.0,
        4.0,
    ]


def test_capped_at_the_maximum() -> None:
    """The countdown never exceeds ``maximum``, however many retries."""
    assert exponential_backoff(50, 1.0, 30.0, jitter=False) == 30.0


def test_negative_retries_count_as_zero() -> None:
    """A negative retry count is treated as the first retry."""
    assert exponential_backoff(-3, 2.0, 600, jitter=False) == 2.0


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    """With jitter, the draw comes from the given RNG."""
    a = exponential_backoff(3, 1.0, 600, jitter=True, rng=random.Random(7))
    b = exponential_backoff(3, 1.0, 600, jitter=True, rng=random.Random(7))
    assert a == b


@given(
    retries=st.integers(-5, 200),
    factor=st.floats(0.0, 100.0),
    maximum=st.floats(0.0, 10_000.0),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_stays_within_bounds(
    retries: int, factor: float, maximum: float, seed: int
) -> None:
    """Full jitter draws within [0, min(maximum, factor * 2**retries)]."""
    bound = min(maximum, factor * 2.0 ** max(retries, 0))
    value = exponential_backoff(retries, factor, maximum, jitter=True, rng=random.Random(seed))
    assert 0.0 <= value <= bound
