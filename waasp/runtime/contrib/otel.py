"""OpenTelemetry tracing of publishing and executing tasks (the ``waasp[otel]`` extra).

``instrument()`` connects receivers to the runtime's signals: a PRODUCER span around each
publish injects its W3C trace context (``traceparent``) into the message headers; a CONSUMER
span around each execution continues it, so one trace goes from the producer through every
attempt. A retry's publish is a PRODUCER span inside the failed attempt's span::

    from waasp.runtime.contrib import otel

    otel.instrument()  # the global TracerProvider, or instrument(tracer_provider=...)
"""

from __future__ import annotations

from collections import OrderedDict
from contextvars import Token
from typing import Any

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanKind, StatusCode
except ImportError as exc:  # pragma: no cover - the extra is installed in the test env
    raise ImportError(
        "waasp.runtime.contrib.otel needs OpenTelemetry: pip install 'waasp[otel]'"
    ) from exc

from waasp.runtime import signals
from waasp.runtime.states import TaskState

SYSTEM = "redis_streams"
# Spans a publish or an execution opened but never closed (a send that raised, a worker
# cancelled mid-task) are ended once this many are open, so none is held for ever.
MAX_OPEN_SPANS = 10_000


class _OpenSpans:
    """Spans by task id, oldest ended first beyond ``MAX_OPEN_SPANS``."""

    def __init__(self) -> None:
        self._spans: OrderedDict[str, tuple[Span, Token[Context] | None]] = OrderedDict()

    def add(self, task_id: str, span: Span, token: Token[Context] | None = None) -> None:
        stale = self._spans.pop(task_id, None)
        if stale is not None:
            stale[0].end()
        self._spans[task_id] = (span, token)
        while len(self._spans) > MAX_OPEN_SPANS:
            self._spans.popitem(last=False)[1][0].end()

    def get(self, task_id: str) -> Span | None:
        found = self._spans.get(task_id)
        return found[0] if found is not None else None

    def pop(self, task_id: str) -> tuple[Span, Token[Context] | None] | None:
        return self._spans.pop(task_id, None)


class Tracing:
    """The receivers that trace tasks; ``instrument()`` builds and connects one."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("waasp.runtime", tracer_provider=tracer_provider)
        self._publishing = _OpenSpans()
        self._running = _OpenSpans()
        self._connected: list[tuple[signals.Signal, signals.Receiver]] = [
            (signals.before_task_publish, self._before_publish),
            (signals.after_task_publish, self._after_publish),
            (signals.task_prerun, self._prerun),
            (signals.task_retry, self._retry),
            (signals.task_failure, self._failure),
            (signals.task_postrun, self._postrun),
        ]

    def instrument(self) -> Tracing:
        """Connect the receivers."""
        for signal, receiver in self._connected:
            signal.connect(receiver)
        return self

    def uninstrument(self) -> None:
        """Disconnect the receivers."""
        for signal, receiver in self._connected:
            signal.disconnect(receiver)

    def _publish_span(self, name: str, task_id: str, queue: str, retries: int) -> Span:
        return self.tracer.start_span(
            f"send {name}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": SYSTEM,
                "messaging.operation.type": "send",
                "messaging.destination.name": queue,
                "messaging.message.id": task_id,
                "waasp.task.name": name,
                "waasp.task.retries": retries,
            },
        )

    def _before_publish(
        self, sender: str, task_id: str, headers: dict[str, Any], queue: str, **_: Any
    ) -> None:
        span = self._publish_span(sender, task_id, queue, 0)
        propagate.inject(headers, context=trace.set_span_in_context(span))
        self._publishing.add(task_id, span)

    def _after_publish(self, task_id: str, **_: Any) -> None:
        found = self._publishing.pop(task_id)
        if found is not None:
            found[0].end()

    def _prerun(self, task: Any, task_id: str, request: Any, **_: Any) -> None:
        parent = propagate.extract(request.headers)
        span = self.tracer.start_span(
            f"process {task.name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": SYSTEM,
                "messaging.operation.type": "process",
                "messaging.destination.name": str(request.delivery_info.get("queue", "")),
                "messaging.message.id": task_id,
                "waasp.task.name": task.name,
                "waasp.task.retries": request.retries,
                "waasp.worker": str(request.hostname or ""),
            },
        )
        # Current while the task runs, so spans the task opens are children of this one.
        token = context.attach(trace.set_span_in_context(span))
        self._running.add(task_id, span, token)

    def _retry(
        self,
        task: Any,
        task_id: str,
        request: Any,
        reason: BaseException | None,
        headers: dict[str, Any],
        **_: Any,
    ) -> None:
        span = self._running.get(task_id)
        if span is not None and reason is not None:
            span.record_exception(reason)
            span.set_status(StatusCode.ERROR, f"retry: {type(reason).__name__}")
        queue = str(request.delivery_info.get("queue", ""))
        publish = self._publish_span(task.name, task_id, queue, request.retries + 1)
        propagate.inject(headers, context=trace.set_span_in_context(publish))
        publish.end()

    def _failure(self, task_id: str, exception: BaseException, **_: Any) -> None:
        span = self._running.get(task_id)
        if span is not None:
            span.record_exception(exception)
            span.set_status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}")

    def _postrun(self, task_id: str, state: TaskState, **_: Any) -> None:
        found = self._running.pop(task_id)
        if found is None:
            return
        span, token = found
        span.set_attribute("waasp.task.state", str(state))
        span.end()
        if token is not None:
            context.detach(token)


def instrument(tracer_provider: trace.TracerProvider | None = None) -> Tracing:
    """Trace every task this process publishes or runs (signals are process-wide); return
    the ``Tracing``, whose ``uninstrument()`` stops it."""
    return Tracing(tracer_provider).instrument()
