"""Deliveries, webhook endpoints, preferences and used e-mail links in memory (one process), and a mailer and
webhook transport that record what they were given (tests)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Callable, Mapping

from pflow.domain.outbound import HELD, PENDING, Delivery, Preferences, WebhookEndpoint
from pflow.ports.outbound import (DeliveryFailed, EmailMessage, HttpResult, Mailer, OutboundStore,
                                  WebhookTransport)


class InMemoryOutboundStore(OutboundStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: dict[str, Delivery] = {}
        self._keys: set[tuple[str, str, str]] = set()
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._preferences: dict[str, Preferences] = {}
        self._links: dict[str, tuple[datetime, str]] = {}

    def enqueue(self, deliveries: list[Delivery]) -> int:
        added = 0
        with self._lock:
            for d in deliveries:
                if d.key not in self._keys:
                    self._keys.add(d.key)
                    self._deliveries[d.id] = d
                    added += 1
        return added

    def claim_due(self, now: datetime, lease_until: datetime, limit: int,
                  channel: str | None = None) -> list[Delivery]:
        with self._lock:
            due = sorted((d for d in self._deliveries.values() if d.status == PENDING and d.next_attempt_at <= now
                          and (channel is None or d.channel == channel)),
                         key=lambda d: (d.next_attempt_at, d.created_at))[:limit]
            claimed = []
            for d in due:
                self._deliveries[d.id] = replace(d, next_attempt_at=lease_until)
                claimed.append(self._deliveries[d.id])
            return claimed

    def save(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries[delivery.id] = delivery

    def get(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            return self._deliveries.get(delivery_id)

    def deliveries(self, *, channel: str | None = None, target: str | None = None, status: str | None = None,
                   limit: int = 50) -> list[Delivery]:
        with self._lock:
            found = [d for d in self._deliveries.values() if (channel is None or d.channel == channel)
                     and (target is None or d.target == target) and (status is None or d.status == status)]
        return sorted(found, key=lambda d: d.created_at, reverse=True)[:limit]

    def held(self, until: datetime) -> dict[str, list[Delivery]]:
        with self._lock:
            found = sorted((d for d in self._deliveries.values() if d.status == HELD and d.created_at < until),
                           key=lambda d: d.created_at)
        by: dict[str, list[Delivery]] = {}
        for d in found:
            by.setdefault(d.target, []).append(d)
        return by

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self._lock:
            self._endpoints[endpoint.id] = endpoint

    def save_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self._lock:
            if endpoint.id in self._endpoints:
                self._endpoints[endpoint.id] = endpoint

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        with self._lock:
            return self._endpoints.get(endpoint_id)

    def endpoints(self) -> list[WebhookEndpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self._lock:
            return self._endpoints.pop(endpoint_id, None) is not None

    def record_endpoint_result(self, endpoint_id: str, ok: bool, disable_after: int) -> WebhookEndpoint | None:
        with self._lock:
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None:
                return None
            if ok:
                endpoint = replace(endpoint, consecutive_failures=0)
            else:
                failures = endpoint.consecutive_failures + 1
                endpoint = replace(endpoint, consecutive_failures=failures)
                if endpoint.active and failures >= disable_after:
                    endpoint = replace(endpoint, active=False,
                                       disabled_reason=f"{failures} deliveries in a row failed")
            self._endpoints[endpoint_id] = endpoint
            return endpoint

    def preferences(self, username: str) -> Preferences:
        with self._lock:
            return self._preferences.get(username, Preferences())

    def set_preferences(self, username: str, preferences: Preferences) -> None:
        with self._lock:
            self._preferences[username] = preferences

    def use_link(self, link_id: str, used_at: datetime, used_by: str) -> bool:
        with self._lock:
            if link_id in self._links:
                return False
            self._links[link_id] = (used_at, used_by)
            return True

    def link_used(self, link_id: str) -> bool:
        with self._lock:
            return link_id in self._links


class RecordingMailer(Mailer):
    """Keeps every message it was given; ``fail`` (a callable returning an error text or None) makes sends fail."""

    def __init__(self, fail: Callable[[EmailMessage], str | None] | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.fail = fail
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        why = self.fail(message) if self.fail else None
        if why:
            raise DeliveryFailed(why)
        with self._lock:
            self.sent.append(message)


class RecordingWebhookTransport(WebhookTransport):
    """Keeps every call; ``answer`` (url -> status, or raises DeliveryFailed) decides the reply (200 by default)."""

    def __init__(self, answer: Callable[[str], int] | None = None) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.answer = answer
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> HttpResult:
        status = self.answer(url) if self.answer else 200
        with self._lock:
            self.calls.append((url, body, dict(headers)))
        return HttpResult(status, 1)
