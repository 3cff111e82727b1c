"""Traces (docs/tracing.md): the few things every layer needs, on OpenTelemetry's API only.

The API does nothing until a tracer provider is installed (``pflow.adapters.tracing.configure``, when
OTEL_EXPORTER_OTLP_ENDPOINT is set): spans are then free no-ops and ``current_traceparent()`` is None. The
trace context crosses process boundaries as a W3C ``traceparent`` string, which PFlow carries where the work
goes: in the outbox row of each event (to the relay, the broker and the consumer) and in the process variable
``pflow_traceparent`` (to the worker that runs the next automated step).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["SpanKind", "TRACEPARENT_VARIABLE", "active", "current_traceparent", "span", "tag_ticket",
           "with_traceparent"]

#: the process variable that carries the trace context of the request that started or moved the instance
TRACEPARENT_VARIABLE = "pflow_traceparent"
TICKET_ID = "pflow.ticket_id"
PROCESS_INSTANCE_ID = "pflow.process_instance_id"

_tracer = trace.get_tracer("pflow")


def active() -> bool:
    """True once a real tracer provider is installed in this process."""
    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def current_traceparent() -> str | None:
    """The current span's context as a W3C traceparent, or None outside a recorded span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def with_traceparent(variables: Mapping[str, Any]) -> dict[str, Any]:
    """``variables`` plus ``pflow_traceparent`` when inside a recorded span (unchanged otherwise)."""
    traceparent = current_traceparent()
    return {**variables, TRACEPARENT_VARIABLE: traceparent} if traceparent else dict(variables)


@contextmanager
def span(name: str, *, parent: str | None = None, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> Iterator[trace.Span]:
    """A span, current inside the block; a child of ``parent`` (a traceparent) when given, else of the current
    span. An exception leaving the block is recorded on it and marks it as an error."""
    context = propagate.extract({"traceparent": parent}) if parent else None
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with _tracer.start_as_current_span(name, context=context, kind=kind, attributes=clean,
                                       record_exception=True, set_status_on_exception=True) as current:
        yield current


def tag_ticket(ticket_id: str | None, process_instance_id: str | None = None) -> None:
    """Name the ticket (and its process instance) on the current span."""
    current = trace.get_current_span()
    if not current.is_recording():
        return
    if ticket_id:
        current.set_attribute(TICKET_ID, ticket_id)
    if process_instance_id:
        current.set_attribute(PROCESS_INSTANCE_ID, process_instance_id)


def mark_error(current: trace.Span, description: str) -> None:
    current.set_status(Status(StatusCode.ERROR, description))
