"""Sentry reports (waasp[sentry]) of tasks an in-process worker runs on the test Redis; Sentry
itself is faked by a transport that keeps the events it is given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from tests.integration.runtime.hooked import own_runtime, run_burst
from waasp.runtime import Runtime, TaskFailed
from waasp.runtime.contrib.sentry import WaaspIntegration


class Captured(Transport):
    """A Sentry transport that keeps events instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        """Keep the envelope's event, if it has one."""
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
async def rt(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """A runtime of this test's own."""
    async with own_runtime(redis_url, key_prefix) as runtime:
        yield runtime


def sentry(**options: Any) -> Iterator[Captured]:
    """Sentry initialised with the integration and a capturing transport, reset afterwards."""
    transport = Captured()
    sentry_sdk.init(
        dsn="https://key@sentry.invalid/1",
        transport=transport,
        integrations=[WaaspIntegration(**options)],
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def reported() -> Iterator[Captured]:
    """Sentry with the integration's defaults."""
    yield from sentry()


@pytest.fixture
def reported_with_retries() -> Iterator[Captured]:
    """Sentry reporting retried attempts too."""
    yield from sentry(report_retries=True)


def flaky_task(rt: Runtime) -> Any:
    """A task that raises ValueError on every attempt, retried once automatically."""

    @rt.task(name="sentry.flaky", autoretry_for=(ValueError,), max_retries=1, default_retry_delay=0)
    def flaky(order: int, *, note: str) -> None:
        raise ValueError(f"bad order {order}")

    return flaky


async def test_a_final_failure_is_reported_with_the_task(rt: Runtime, reported: Captured) -> None:
    """Retried once, then failed: one event (the final failure), unhandled, with the task's
    name and id as tags and its arguments in the ``waasp task`` context."""
    flaky = flaky_task(rt)
    result = await flaky.delay(42, note="x" * 100_000)
    await run_burst(rt)
    with pytest.raises(TaskFailed):
        await result.get(timeout=10)
    [event] = reported.events
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "bad order 42"
    assert exception["mechanism"] == {"type": "waasp_runtime", "handled": False}
    assert event["tags"] == {"waasp.task": "sentry.flaky", "waasp.task_id": result.id}
    task = event["contexts"]["waasp task"]
    assert task["id"] == result.id and task["name"] == "sentry.flaky"
    assert task["retries"] == 1 and task["retrying"] is False
    assert task["args"] == "(42,)"
    assert task["kwargs"].startswith("{'note': 'xxx") and len(task["kwargs"]) < 600


async def test_retries_are_reported_when_asked(
    rt: Runtime, reported_with_retries: Captured
) -> None:
    """With ``report_retries=True`` the retried attempt is an event too, marked retrying."""
    flaky = flaky_task(rt)
    result = await flaky.delay(1, note="n")
    await run_burst(rt)
    with pytest.raises(TaskFailed):
        await result.get(timeout=10)
    contexts = [event["contexts"]["waasp task"] for event in reported_with_retries.events]
    assert [(c["retries"], c["retrying"]) for c in contexts] == [(0, True), (1, False)]


async def test_a_success_reports_nothing(rt: Runtime, reported: Captured) -> None:
    """A task that succeeds sends Sentry nothing."""

    @rt.task(name="sentry.fine")
    def fine() -> int:
        return 1

    result = await fine.delay()
    await run_burst(rt)
    assert await result.get(timeout=10) == 1
    assert reported.events == []
