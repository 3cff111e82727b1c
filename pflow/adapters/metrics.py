"""Prometheus metrics (docs/metrics.md): the metric definitions, the ``Telemetry`` port's recorder, the
scrape-time collector of what the store holds, and the ``/metrics`` text.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn: several worker processes), prometheus_client keeps each
process's counters and histograms in files there and a scrape adds them up with ``MultiProcessCollector``;
the directory is created when missing, before the first metric is. Gauges about the store are never kept
per process: ``StoreCollector`` computes them at scrape time, so they are right however many processes run.
A gunicorn config calls ``child_exit(server, worker)`` so a dead worker's live files are cleaned up.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    return Path(raw) if raw else None


def _ensure_multiprocess_dir() -> None:
    for name in (MULTIPROC_ENV, MULTIPROC_ENV.lower()):
        if name in os.environ and not os.environ[name].strip():
            # set but empty (a Compose ${VAR:-}): prometheus_client would write its files into the working folder
            del os.environ[name]
    directory = multiprocess_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)


_ensure_multiprocess_dir()  # before prometheus_client makes its first value file

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

from pflow.ports.telemetry import Telemetry  # noqa: E402

log = logging.getLogger(__name__)

#: latency buckets (seconds) from a fast database read to a slow engine call
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Histogram("pflow_http_request_duration_seconds",
                          "HTTP requests by route (the URL rule), method and status code, and how long they took.",
                          ["route", "method", "status"], buckets=LATENCY_BUCKETS)
RELAY_PUBLISHED = Counter("pflow_relay_published", "Outbox events the broker confirmed.")
RELAY_FAILED = Counter("pflow_relay_failed", "Failed attempts to publish an outbox event (it is tried again).")
CONSUMER_HANDLED = Counter("pflow_consumer_handled", "Ticket events the event consumer handled.")
CONSUMER_FAILED = Counter("pflow_consumer_failed", "Ticket events whose handling raised in the event consumer.")
WORKER_POLLS = Counter("pflow_worker_polls", "External-task fetches (long polls) the workers made.")
WORKER_FETCHED = Counter("pflow_worker_tasks_fetched", "External tasks the workers locked, by topic.", ["topic"])
WORKER_COMPLETED = Counter("pflow_worker_tasks_completed", "External tasks completed, by topic.", ["topic"])
WORKER_FAILED = Counter("pflow_worker_tasks_failed", "Failed handler attempts, by topic.", ["topic"])
WORKER_INCIDENTS = Counter("pflow_worker_incidents",
                           "External tasks that failed with no retry left (the engine raised an incident).",
                           ["topic"])
HANDLER_DURATION = Histogram("pflow_worker_handler_duration_seconds",
                             "How long task handlers ran, by topic and outcome (completed, failed).",
                             ["topic", "outcome"], buckets=LATENCY_BUCKETS)
ENGINE_CALLS = Histogram("pflow_engine_call_duration_seconds",
                         "Calls to the workflow engine by operation and outcome (ok, busy, unavailable, rejected, "
                         "error), and how long they took.", ["operation", "outcome"], buckets=LATENCY_BUCKETS)
TIMERS_FIRED = Counter("pflow_timers_fired", "Due timers of the embedded engine that fired.")


class PrometheusTelemetry(Telemetry):
    """The ``Telemetry`` port recorded in the metrics above."""

    def relay_published(self, count: int) -> None:
        RELAY_PUBLISHED.inc(count)

    def relay_failed(self) -> None:
        RELAY_FAILED.inc()

    def consumer_handled(self) -> None:
        CONSUMER_HANDLED.inc()

    def consumer_failed(self) -> None:
        CONSUMER_FAILED.inc()

    def worker_polled(self) -> None:
        WORKER_POLLS.inc()

    def task_fetched(self, topic: str) -> None:
        WORKER_FETCHED.labels(topic).inc()

    def task_completed(self, topic: str, seconds: float) -> None:
        WORKER_COMPLETED.labels(topic).inc()
        HANDLER_DURATION.labels(topic, "completed").observe(seconds)

    def task_failed(self, topic: str, seconds: float) -> None:
        WORKER_FAILED.labels(topic).inc()
        HANDLER_DURATION.labels(topic, "failed").observe(seconds)

    def task_incident(self, topic: str) -> None:
        WORKER_INCIDENTS.labels(topic).inc()

    def engine_call(self, operation: str, outcome: str, seconds: float) -> None:
        ENGINE_CALLS.labels(operation, outcome).observe(seconds)

    def timers_fired(self, count: int) -> None:
        TIMERS_FIRED.inc(count)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


class StoreCollector(Collector):
    """Gauges computed from the ticket store at scrape time (one unit of work, a few GROUP BY queries)."""

    def __init__(self, uow_factory: Callable, clock: Callable[[], datetime]) -> None:
        self._uow = uow_factory
        self._clock = clock

    def describe(self):
        return []  # computed at scrape time; nothing to check when registering

    def collect(self) -> Iterator:
        up = GaugeMetricFamily("pflow_store_up", "1 when the last scrape could read the ticket store, else 0.")
        now = self._clock()
        try:
            with self._uow() as uow:
                gauges = uow.tickets.gauges(now)
                backlog = uow.outbox.backlog()
        except Exception as exc:  # a scrape must answer even with the database down: it says so
            log.warning("metrics: the ticket store did not answer (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        tickets = GaugeMetricFamily("pflow_tickets", "Tickets by type and status.", labels=["type", "status"])
        for row in gauges.tickets:
            tickets.add_metric([row.type, row.status], row.count)
        yield tickets
        tasks = GaugeMetricFamily("pflow_open_tasks", "Open user tasks by candidate group and age bucket "
                                  "(lt_1d, d1_3, d3_7, gt_7d, unknown).", labels=["group", "age"])
        for row in gauges.open_steps:
            tasks.add_metric([row.group, row.bucket or "unknown"], row.count)
        yield tasks
        oldest = GaugeMetricFamily("pflow_open_task_oldest_age_seconds",
                                   "Age of the oldest open user task, by candidate group.", labels=["group"])
        for group, opened in sorted(gauges.oldest_open.items()):
            oldest.add_metric([group], max((now - _utc(opened)).total_seconds(), 0.0))
        yield oldest
        overdue = GaugeMetricFamily("pflow_overdue_tasks", "Open user tasks past their due time, by ticket type.",
                                    labels=["type"])
        for row in gauges.overdue:
            overdue.add_metric([row.type], row.count)
        yield overdue
        yield GaugeMetricFamily("pflow_outbox_unsent", "Outbox events not yet confirmed by the broker.",
                                value=backlog.unsent)
        age = 0.0 if backlog.oldest is None else max((now - _utc(backlog.oldest)).total_seconds(), 0.0)
        yield GaugeMetricFamily("pflow_outbox_oldest_unsent_age_seconds",
                                "Age of the oldest unsent outbox event (0: none waits).", value=age)


class _ThisProcess(Collector):
    """This process's own metrics (the default registry), when not in multiprocess mode."""

    def collect(self):
        return REGISTRY.collect()


def scrape(store: StoreCollector | None) -> tuple[bytes, str]:
    """The /metrics body and its content type: every process's metrics plus the store's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir() is not None:
        _ensure_multiprocess_dir()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if store is not None:
        registry.register(store)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Clean up a dead process's live-gauge files (multiprocess mode; nothing to do otherwise)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def child_exit(server, worker) -> None:
    """gunicorn's ``child_exit`` hook: ``child_exit = pflow.adapters.metrics.child_exit`` in its config."""
    mark_process_dead(worker.pid)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).observe(seconds)


monotonic = time.perf_counter


class MetricsServer:
    """``/metrics`` of a process without the HTTP API (``pflow worker``, ``pflow consume``; PFLOW_METRICS_PORT),
    with the same bearer token check as the API's."""

    def __init__(self, port: int, token: str | None, store: StoreCollector | None = None,
                 host: str = "0.0.0.0") -> None:
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        class _Quiet(WSGIRequestHandler):
            def log_message(self, *args) -> None:  # every scrape would log a line
                pass

        self._token = token
        self._store = store
        self._server = make_server(host, port, self._app, handler_class=_Quiet)
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    def _app(self, environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        if self._token:
            scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token.encode()):
                start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                    ("WWW-Authenticate", 'Bearer realm="metrics"')])
                return [b"metrics need Authorization: Bearer <PFLOW_METRICS_TOKEN>\n"]
        body, content_type = scrape(self._store)
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
        return [body]

    def start(self) -> "MetricsServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="pflow-metrics", daemon=True)
        self._thread.start()
        log.info("metrics at http://0.0.0.0:%d/metrics", self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)
