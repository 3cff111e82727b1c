"""Sending out of PFlow: where deliveries, webhook endpoints, preferences and used e-mail links are kept, and
the SMTP server and HTTP client they go out through."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from pflow.domain.outbound import Delivery, Preferences, WebhookEndpoint

#: the username the admins' default preferences are kept under
DEFAULTS = "*"


class OutboundStore(abc.ABC):
    """Deliveries and what they are sent by. Every method is its own transaction; a database that is down
    raises ``ServiceUnavailable`` naming it."""

    # --- deliveries
    @abc.abstractmethod
    def enqueue(self, deliveries: list[Delivery]) -> int:
        """Add deliveries whose key (channel, event, target) is new; the others are left as they are (an event
        seen twice is delivered once). Returns how many were added."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, lease_until: datetime, limit: int,
                  channel: str | None = None) -> list[Delivery]:
        """Up to ``limit`` PENDING deliveries due at ``now`` (oldest first), each moved to ``lease_until`` in
        the same step, so another sender does not take it meanwhile. A sender that dies holding one leaves it
        due again at ``lease_until``."""

    @abc.abstractmethod
    def save(self, delivery: Delivery) -> None:
        """Store the outcome of an attempt (status, attempts, next attempt, response)."""

    @abc.abstractmethod
    def get(self, delivery_id: str) -> Delivery | None: ...

    @abc.abstractmethod
    def deliveries(self, *, channel: str | None = None, target: str | None = None, status: str | None = None,
                   limit: int = 50) -> list[Delivery]:
        """Newest first."""

    @abc.abstractmethod
    def held(self, until: datetime) -> dict[str, list[Delivery]]:
        """The HELD e-mails created before ``until``, by recipient (oldest first): what their digest gathers."""

    # --- webhook endpoints
    @abc.abstractmethod
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    @abc.abstractmethod
    def save_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    @abc.abstractmethod
    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    @abc.abstractmethod
    def endpoints(self) -> list[WebhookEndpoint]:
        """Every endpoint, oldest first."""

    @abc.abstractmethod
    def remove_endpoint(self, endpoint_id: str) -> bool: ...

    @abc.abstractmethod
    def record_endpoint_result(self, endpoint_id: str, ok: bool, disable_after: int) -> WebhookEndpoint | None:
        """Count one delivery result atomically: a success resets the failure count, a failure adds one and,
        at ``disable_after`` in a row, disables the endpoint. Returns the endpoint as it is now."""

    # --- preferences
    @abc.abstractmethod
    def preferences(self, username: str) -> Preferences:
        """What ``username`` chose (``DEFAULTS``: the admins' defaults); empty when they chose nothing."""

    @abc.abstractmethod
    def set_preferences(self, username: str, preferences: Preferences) -> None: ...

    # --- e-mail links
    @abc.abstractmethod
    def use_link(self, link_id: str, used_at: datetime, used_by: str) -> bool:
        """Mark a one-time link used; False when it was used before (by anyone)."""

    @abc.abstractmethod
    def link_used(self, link_id: str) -> bool: ...

    def check(self) -> None:
        """Readiness probe."""


@dataclass(frozen=True)
class EmailMessage:
    """One e-mail, ready to send."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str  # the same for every attempt of one delivery, so a receiver can tell a repeat
    language: str = "en"
    headers: Mapping[str, str] | None = None


class Mailer(abc.ABC):
    @abc.abstractmethod
    def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server; returns once it accepted it. Raises ``DeliveryFailed`` saying
        why (not reachable, refused, authentication) when it did not."""

    def close(self) -> None:
        """Release connections. Idempotent."""


@dataclass(frozen=True)
class HttpResult:
    status: int
    latency_ms: int
    body: str = ""


class WebhookTransport(abc.ABC):
    @abc.abstractmethod
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> HttpResult:
        """POST ``body``; returns the status the endpoint answered, whatever it is. Raises ``DeliveryFailed``
        when no answer came (refused, timeout, TLS)."""

    def close(self) -> None:
        """Release connections. Idempotent."""


class DeliveryFailed(Exception):
    """An SMTP server or endpoint did not take a delivery; the message says why."""
