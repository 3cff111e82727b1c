"""OpenTelemetry's SDK for PFlow's processes (docs/tracing.md): a tracer provider exporting OTLP over HTTP,
and the instrumentations of requests (calls to Camunda/Operaton, webhooks) and SQLAlchemy (every statement).
Flask's instrumentation is per application (``pflow.entrypoints.http.app``), SQLAlchemy's per engine
(``instrument_engine``, called by the container).

On only when OTEL_EXPORTER_OTLP_ENDPOINT is set; the exporter then reads the standard OTEL_EXPORTER_OTLP_*
variables itself (headers, timeout, a traces-only endpoint). ``configure`` runs once per process, before
the container creates its database engines, so they are instrumented.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor

from pflow.config import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_provider: TracerProvider | None = None


def configure(settings: Settings, service: str) -> bool:
    """Install the tracer provider (service name OTEL_SERVICE_NAME, else ``service``) when tracing is
    configured; True if this process traces. A second call keeps the first provider."""
    if not settings.tracing_enabled:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return install(BatchSpanProcessor(OTLPSpanExporter()), settings.tracing_service_name or service)


def install(processor: SpanProcessor, service: str) -> bool:
    """Install a provider sending spans to ``processor`` (tests pass an in-memory exporter's) and the
    requests and SQLAlchemy instrumentations, once per process."""
    global _provider
    with _lock:
        if _provider is not None:
            return True
        provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}"}))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider = provider
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().instrument()
    log.info("tracing: spans of %s go to %s", service,
             os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
             or type(processor).__name__)
    return True


def instrument_engine(engine) -> None:
    """A span per SQL statement on ``engine`` (OpenTelemetry's SQLAlchemy instrumentation), when this process
    traces. Per engine rather than ``SQLAlchemyInstrumentor().instrument()``: that one also patches the asyncio
    extension (which needs greenlet, not installed) and declares SQLAlchemy < 2.1, while its engine hooks work
    on 2.1 as they are."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__ as version
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    connections = get_meter("opentelemetry.instrumentation.sqlalchemy", version).create_up_down_counter(
        name="db.client.connections.usage", unit="connections",
        description="The number of connections that are currently in state described by the state attribute.")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", version), engine, connections)


def flush(timeout_ms: int = 5000) -> None:
    """Send what is buffered (before the process exits)."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def exporter_for_tests(exporter: SpanExporter, service: str = "pflow-test") -> bool:
    """Spans of this process go to ``exporter`` synchronously (tests read them at once)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    return install(SimpleSpanProcessor(exporter), service)
