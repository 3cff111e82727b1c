"""An event publisher that keeps what it was given, and can be 'down'."""

from __future__ import annotations

import threading
from typing import Any

from pflow.domain.errors import ServiceUnavailable
from pflow.ports.events import EventPublisher


class InMemoryEventPublisher(EventPublisher):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[str, dict[str, Any], str]] = []
        self.available = True

    def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str) -> None:
        self.check()
        with self._lock:
            self.messages.append((routing_key, body, message_id))

    def check(self) -> None:
        if not self.available:
            raise ServiceUnavailable("event broker", "the event broker is unavailable (in-memory publisher switched off)")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [body for _, body, _ in self.messages]
