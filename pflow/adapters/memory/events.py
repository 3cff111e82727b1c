"""An event bus in a list: the publisher keeps what it was given and queues it for the
consumer; both can be 'down'. Same contract as the broker adapters (see the event-bus suite)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from pflow.domain.errors import ServiceUnavailable
from pflow.domain.events import REASON_MAX, shown
from pflow.ports.events import EventConsumer, EventPublisher, MessageHandler, ReceivedMessage, RejectMessage

log = logging.getLogger(__name__)

BINDING_PREFIXES = ("ticket.", "task.")  # the queue is bound to ticket.# and task.#


class InMemoryEventPublisher(EventPublisher):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[str, dict[str, Any], str]] = []
        # The bound queue: (message, redelivered), consumed by InMemoryEventConsumer.
        self.queue: deque[tuple[ReceivedMessage, bool]] = deque()
        self.arrived = threading.Condition(self._lock)
        self.available = True

    def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str,
                traceparent: str | None = None) -> None:
        self.check()
        with self._lock:
            self.messages.append((routing_key, body, message_id))
            if routing_key.startswith(BINDING_PREFIXES):
                self.queue.append((ReceivedMessage(routing_key, dict(body), message_id, traceparent=traceparent),
                                   False))
                self.arrived.notify_all()

    def check(self) -> None:
        if not self.available:
            raise ServiceUnavailable("event broker", "the event broker is unavailable (in-memory publisher switched off)")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [body for _, body, _ in self.messages]


class InMemoryEventConsumer(EventConsumer):
    """Consumes the in-memory publisher's queue; waits (as if reconnecting) while it is switched off."""

    def __init__(self, bus: InMemoryEventPublisher, *, max_backoff_s: float = 5.0) -> None:
        self._bus = bus
        self.max_backoff_s = max_backoff_s

    def consume(self, handler: MessageHandler, stop: threading.Event, *, idle_timeout: float | None = None) -> int:
        handled = 0
        backoff = 0.0
        idle_since = time.monotonic()
        while not stop.is_set():
            if not self._bus.available:
                stop.wait(0.05)
                continue
            with self._bus.arrived:
                if not self._bus.queue:
                    self._bus.arrived.wait(0.05)
                if not self._bus.queue:
                    if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                        return handled
                    continue
                message, redelivered = self._bus.queue.popleft()
            received = ReceivedMessage(message.routing_key, dict(message.body), message.message_id, redelivered,
                                       message.traceparent)
            try:
                handler(received)
            except RejectMessage as exc:
                log.warning("dropping message %s (%s): %s", shown(received.message_id), shown(received.routing_key),
                            str(exc)[:REASON_MAX])
            except Exception as exc:  # put it back first in line, then slow down
                with self._bus.arrived:
                    self._bus.queue.appendleft((message, True))
                backoff = min(self.max_backoff_s, backoff * 2 or 0.1)
                log.warning("handling message %s failed (%s); redelivering in %.1fs", received.message_id, exc, backoff)
                stop.wait(backoff)
                continue
            backoff = 0.0
            handled += 1
            idle_since = time.monotonic()
        return handled

    def check(self) -> None:
        self._bus.check()
