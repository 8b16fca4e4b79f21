"""The worker process freezes its start-up heap, and decodes each delivery's message once."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from waasp.runtime.broker import RawDelivery
from waasp.runtime.message import TaskMessage, encode_message
from waasp.runtime.worker.heap import freeze_startup_heap
from waasp.runtime.worker.outcomes import decoded, message_of


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process keeps collecting as before


@pytest.mark.usefixtures("unfrozen")
def test_objects_alive_at_start_up_are_left_out_of_collections() -> None:
    """What exists when the worker starts is frozen; what is made later is collected."""
    kept = [object() for _ in range(10)]
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() > len(kept)
    later: list[object] = []
    later.append(later)  # a cycle made after the freeze
    del later
    assert gc.collect() >= 1  # still collected


def _delivery(message: TaskMessage) -> RawDelivery:
    return RawDelivery("default", "1-0", encode_message(message))


def test_a_delivery_is_decoded_once_for_admission_start_and_execution() -> None:
    """Three readers of the same delivery share one decoded message."""
    message = TaskMessage(id="t-heap-1", task="tests.noop", args=(1,), kwargs={}, queue="default")
    delivery = _delivery(message)
    first = decoded(delivery)
    assert first == message
    assert message_of(delivery.raw) is first
    assert decoded(delivery) is first


def test_a_malformed_delivery_still_decodes_to_none() -> None:
    assert decoded(RawDelivery("default", "1-0", b"not json")) is None
    assert decoded(RawDelivery("default", "1-0", b"not json")) is None
