"""Publishing and consuming domain events."""

from __future__ import annotations

import abc
from typing import Any


class EventPublisher(abc.ABC):
    """Publishes a message to the ticket events exchange."""

    @abc.abstractmethod
    def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str) -> None:
        """Publish one message and return only once the broker has confirmed it
        (it is then durable). Raises ``ServiceUnavailable`` naming the broker when it
        cannot be reached or refuses the message; the caller retries later.
        ``message_id`` is the event id, so consumers can drop duplicates."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the broker answers, else raise ``ServiceUnavailable``."""

    def close(self) -> None:
        """Release the connection. Idempotent."""
