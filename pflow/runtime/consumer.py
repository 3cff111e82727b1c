"""The event consumer process: ticket events in, in-app notifications out.

``pflow consume`` runs it in the foreground (production, one or more processes);
``pflow serve`` runs it as a thread in the embedded default.
"""

from __future__ import annotations

import logging
import threading

from pflow import tracing
from pflow.ports.events import EventConsumer, ReceivedMessage
from pflow.ports.telemetry import NO_TELEMETRY, Telemetry
from pflow.service.notifications import NotificationService

log = logging.getLogger(__name__)


class NotificationConsumer:
    def __init__(self, consumer: EventConsumer, notifications: NotificationService,
                 telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._telemetry = telemetry
        self._consumer = consumer
        self._notifications = notifications
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.handled = 0

    def run(self, stop: threading.Event | None = None, *, idle_timeout: float | None = None) -> int:
        """Consume in this thread until ``stop`` is set (or idle for ``idle_timeout`` seconds)."""
        count = self._consumer.consume(self._handle, stop or self._stop, idle_timeout=idle_timeout)
        self.handled += count
        return count

    def _handle(self, message: ReceivedMessage):
        body = message.body if isinstance(message.body, dict) else {}
        try:
            # in the trace of the request that caused the event (the relay's publish span is its parent)
            with tracing.span(f"{message.routing_key} process", parent=message.traceparent,
                              kind=tracing.SpanKind.CONSUMER,
                              attributes={tracing.TICKET_ID: body.get("ticket_id"),
                                          "messaging.message.id": message.message_id}):
                result = self._notifications.handle(message)
        except Exception:
            self._telemetry.consumer_failed()
            raise
        self._telemetry.consumer_handled()
        return result

    def drain(self, idle_timeout: float = 0.5) -> int:
        """Handle whatever is queued now, then return (tests, scripts)."""
        return self.run(threading.Event(), idle_timeout=idle_timeout)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="pflow-consumer", daemon=True)
        self._thread.start()
        log.info("event consumer started")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        log.info("event consumer stopped (%d events handled, %d refused)", self.handled, self.rejected)

    @property
    def rejected(self) -> int:
        """Messages refused so far (not ticket events of the contract, or about no ticket the store knows)."""
        return self._notifications.rejected
