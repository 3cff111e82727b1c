"""Publishing and consuming domain events."""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass
from typing import Any, Callable


class EventPublisher(abc.ABC):
    """Publishes a message to the ticket events exchange."""

    @abc.abstractmethod
    def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str,
                traceparent: str | None = None) -> None:
        """Publish one message and return only once the broker has confirmed it
        (it is then durable). Raises ``ServiceUnavailable`` naming the broker when it
        cannot be reached or refuses the message; the caller retries later.
        ``message_id`` is the event id, so consumers can drop duplicates. ``traceparent`` (a W3C
        trace context) travels with the message and comes out as ``ReceivedMessage.traceparent``."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the broker answers, else raise ``ServiceUnavailable``."""

    def close(self) -> None:
        """Release the connection. Idempotent."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One message taken from the ticket events queue."""

    routing_key: str
    body: dict[str, Any]
    message_id: str | None
    redelivered: bool = False
    traceparent: str | None = None


class RejectMessage(Exception):
    """Raised by a handler for a message that can never be handled (malformed, wrong schema).

    The consumer logs it and drops the message instead of redelivering it forever."""


MessageHandler = Callable[[ReceivedMessage], object]


class EventConsumer(abc.ABC):
    """Takes messages from the ticket events queue (bound to ``ticket.#``)."""

    @abc.abstractmethod
    def consume(self, handler: MessageHandler, stop: threading.Event, *,
                idle_timeout: float | None = None) -> int:
        """Hand messages to ``handler`` one at a time, in queue order, until ``stop`` is set
        (or, with ``idle_timeout``, until no message arrived for that many seconds).
        Returns how many messages were handled.

        A message is acknowledged only after ``handler`` returned, so none is lost
        when the process dies mid-way; it may then be delivered again, so handlers
        must be idempotent (dedupe by ``message_id``, which is the event id).
        ``RejectMessage`` drops the message (logged). Any other exception puts the
        message back for redelivery and the consumer waits (growing backoff) before
        taking the next one. When the broker goes away the consumer reconnects with
        backoff; it never raises for that, it only logs. ``stop`` is honoured
        within about a second, after the message in hand is finished."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the broker answers, else raise ``ServiceUnavailable``."""

    def close(self) -> None:
        """Release connections. Idempotent."""
