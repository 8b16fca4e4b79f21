"""OpenTelemetry tracing (waasp[otel]): one trace from the producer through every attempt of a
task run by an in-process worker on the test Redis, exported to the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.integration.runtime.hooked import own_runtime, run_burst
from waasp.runtime import Runtime, Task, TaskFailed
from waasp.runtime.contrib import otel


@pytest.fixture
async def rt(redis_url: str, key_prefix: str) -> AsyncIterator[Runtime]:
    """A runtime of this test's own."""
    async with own_runtime(redis_url, key_prefix) as runtime:
        yield runtime


class Traced:
    """A tracer provider that exports to memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        """The spans exported so far."""
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def traced() -> Iterator[Traced]:
    """A provider exporting to memory, instrumented for the test's duration."""
    traced = Traced()
    tracing = otel.instrument(tracer_provider=traced.provider)
    try:
        yield traced
    finally:
        tracing.uninstrument()
        traced.provider.shutdown()


def parent_of(span: ReadableSpan) -> int | None:
    """The span id of ``span``'s parent."""
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    """``span``'s own id."""
    assert span.context is not None
    return int(span.context.span_id)


def chain(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """The spans from the root down, each the only child of the one before (or fail)."""
    [root] = [s for s in spans if s.parent is None]
    out = [root]
    while children := [s for s in spans if parent_of(s) == span_id(out[-1])]:
        assert len(children) == 1, [c.name for c in children]
        out.append(children[0])
    assert len(out) == len(spans), "every span is in the one chain"
    return out


async def test_one_trace_from_producer_through_a_retry(rt: Runtime, traced: Traced) -> None:
    """request -> send -> process (attempt 0, error) -> send (the retry) -> process (attempt 1)
    -> a span the task opens: one trace, each span the child of the one before."""
    tracer = traced.provider.get_tracer("test")

    @rt.task(name="otel.flaky", bind=True)
    async def flaky(self: Task, n: int) -> int:
        if self.request.retries == 0:
            raise self.retry(exc=ConnectionError("try again"), countdown=0)
        with tracer.start_as_current_span("inside"):
            return n

    with tracer.start_as_current_span("request"):
        result = await flaky.delay(3)
    await run_burst(rt)
    assert await result.get(timeout=10) == 3

    spans = traced.finished()
    by_order = chain(spans)
    assert [(s.name, s.kind) for s in by_order] == [
        ("request", SpanKind.INTERNAL),
        ("send otel.flaky", SpanKind.PRODUCER),
        ("process otel.flaky", SpanKind.CONSUMER),
        ("send otel.flaky", SpanKind.PRODUCER),
        ("process otel.flaky", SpanKind.CONSUMER),
        ("inside", SpanKind.INTERNAL),
    ]
    assert len({s.context.trace_id for s in spans if s.context is not None}) == 1
    _, send, first, resend, second, _ = by_order
    assert send.attributes is not None and send.attributes["waasp.task.retries"] == 0
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["messaging.system"] == "redis_streams"
    assert first.attributes["messaging.message.id"] == result.id
    assert first.attributes["messaging.destination.name"] == "default"
    assert first.attributes["waasp.task.name"] == "otel.flaky"
    assert first.attributes["waasp.task.retries"] == 0
    assert first.attributes["waasp.task.state"] == "RETRY"
    assert first.status.status_code is StatusCode.ERROR
    assert [e.name for e in first.events] == ["exception"]
    assert resend.attributes is not None and resend.attributes["waasp.task.retries"] == 1
    assert second.attributes["waasp.task.retries"] == 1
    assert second.attributes["waasp.task.state"] == "SUCCESS"
    assert second.status.status_code is StatusCode.UNSET


async def test_a_failure_is_recorded_and_the_context_travels_in_the_headers(
    rt: Runtime, traced: Traced
) -> None:
    """A task that fails: its span is an error with the exception; the task saw a W3C
    ``traceparent`` header naming the publish span."""
    seen: dict[str, Any] = {}

    @rt.task(name="otel.boom", bind=True, max_retries=0)
    def boom(self: Task) -> None:
        seen.update(self.request.headers)
        raise KeyError("missing")

    result = await boom.delay()
    await run_burst(rt)
    with pytest.raises(TaskFailed):
        await result.get(timeout=10)
    send, process = chain(traced.finished())
    assert process.status.status_code is StatusCode.ERROR
    assert process.events[0].attributes is not None
    assert process.events[0].attributes["exception.type"] == "KeyError"
    assert send.context is not None
    assert seen["traceparent"].startswith(f"00-{send.context.trace_id:032x}-{span_id(send):016x}-")


async def test_uninstrumented_sends_no_header_and_no_span(rt: Runtime) -> None:
    """After ``uninstrument()`` nothing is traced and the headers stay as given."""
    traced = Traced()
    otel.instrument(tracer_provider=traced.provider).uninstrument()

    @rt.task(name="otel.plain", bind=True)
    def plain(self: Task) -> dict[str, Any]:
        return dict(self.request.headers)

    result = await plain.apply_async(headers={"given": 1})
    await run_burst(rt)
    assert await result.get(timeout=10) == {"given": 1}
    assert traced.finished() == []
