"""Webhook endpoints as admins manage them: register, change, re-enable, remove, read the delivery log, and
send a test event at once.

Only admins manage endpoints. An endpoint's secret signs every call (``X-PFlow-Signature``); it is made here
when the admin gives none, and shown once, in what ``register`` returns. Re-enabling an endpoint that was
disabled after failed deliveries resets its failure count; deliveries that were still waiting go out again.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from pflow.domain.errors import NotFound, PermissionDenied, ValidationError
from pflow.domain.outbound import FAILED, JSON, SENT, WEBHOOK, WEBHOOK_FORMATS, Delivery, WebhookEndpoint
from pflow.domain.users import User
from pflow.ports.outbound import OutboundStore
from pflow.service.outbound import DeliverySender, test_event, utc_now

URL_MAX = 2000
DESCRIPTION_MAX = 500
SECRET_MIN, SECRET_MAX = 16, 200
PATTERN_MAX = 100
EVENT_TYPES_MAX = 50
DELIVERIES_MAX = 200

#: an http(s) URL with a host: no spaces, no NUL
URL_PATTERN = r"^https?://[^\s\x00/?#@]+(?:[/?#][^\s\x00]*)?$"
#: an event type or a pattern of them: ``ticket.*``, ``task.created``, ``*``
EVENT_PATTERN = r"^[a-z_.*]+$"

# The messages, as the HTTP schemas use them word for word (pflow.entrypoints.http.error_keys reads them back
# into keys).
URL_MESSAGE = "Must be an http:// or https:// URL."
EVENT_PATTERN_MESSAGE = "Must be an event type or a pattern of them, such as ticket.* (a-z, _, . and *)."
NOT_EMPTY_MESSAGE = "Must not be empty."

_URL = re.compile(URL_PATTERN)
_EVENT = re.compile(EVENT_PATTERN)
_UNSET: Any = object()


@dataclass(frozen=True)
class TestResult:
    status: str  # sent | failed
    response_code: int | None
    latency_ms: int | None
    error: str | None
    delivery_id: str


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only an admin can manage webhooks.", key="auth.admins_only")


def _problems(*, url: Any = _UNSET, event_types: Any = _UNSET, format: Any = _UNSET, description: Any = _UNSET,
              secret: Any = _UNSET) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if url is not _UNSET:
        if not isinstance(url, str) or not _URL.match(url):
            problems["url"] = [URL_MESSAGE]
        elif len(url) > URL_MAX:
            problems["url"] = [f"Must be at most {URL_MAX} characters."]
    if event_types is not _UNSET:
        if not isinstance(event_types, (list, tuple)) or not event_types:
            problems["event_types"] = [NOT_EMPTY_MESSAGE]
        elif len(event_types) > EVENT_TYPES_MAX:
            problems["event_types"] = [f"Must be between 1 and {EVENT_TYPES_MAX}."]
        else:
            for i, pattern in enumerate(event_types):
                if not isinstance(pattern, str) or not _EVENT.match(pattern):
                    problems[f"event_types.{i}"] = [EVENT_PATTERN_MESSAGE]
                elif len(pattern) > PATTERN_MAX:
                    problems[f"event_types.{i}"] = [f"Must be at most {PATTERN_MAX} characters."]
    if format is not _UNSET and format not in WEBHOOK_FORMATS:
        problems["format"] = [f"Must be one of: {', '.join(WEBHOOK_FORMATS)}."]
    if description is not _UNSET:
        if not isinstance(description, str) or "\x00" in description:
            problems["description"] = ["Must be a string."]
        elif len(description) > DESCRIPTION_MAX:
            problems["description"] = [f"Must be at most {DESCRIPTION_MAX} characters."]
    if secret is not _UNSET and secret is not None:
        if not isinstance(secret, str) or "\x00" in secret:
            problems["secret"] = ["Must be a string."]
        elif len(secret) < SECRET_MIN:
            problems["secret"] = [f"Must be at least {SECRET_MIN} characters."]
        elif len(secret) > SECRET_MAX:
            problems["secret"] = [f"Must be at most {SECRET_MAX} characters."]
    return problems


def _check(**values: Any) -> None:
    problems = _problems(**values)
    if problems:
        raise ValidationError("The webhook has invalid fields.", problems)


class WebhookService:
    def __init__(self, store: OutboundStore, sender: DeliverySender,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock

    # --- endpoints

    def register(self, actor: User, *, url: str, event_types: Iterable[str], format: str = JSON,
                 description: str = "", secret: str | None = None) -> WebhookEndpoint:
        """A new active endpoint; its ``secret`` (made when none is given) is in what this returns, and only
        there: listing and reading an endpoint never show it."""
        _require_admin(actor)
        event_types = list(event_types) if isinstance(event_types, (list, tuple)) else event_types
        _check(url=url, event_types=event_types, format=format, description=description, secret=secret)
        endpoint = WebhookEndpoint(id=str(uuid.uuid4()), url=url, secret=secret or secrets.token_urlsafe(32),
                                   event_types=tuple(dict.fromkeys(event_types)), format=format,
                                   description=description, created_at=self._clock(), created_by=actor.username)
        self._store.add_endpoint(endpoint)
        return endpoint

    def list(self, actor: User) -> list[WebhookEndpoint]:
        _require_admin(actor)
        return self._store.endpoints()

    def get(self, actor: User, endpoint_id: str) -> WebhookEndpoint:
        _require_admin(actor)
        return self._endpoint(endpoint_id)

    def update(self, actor: User, endpoint_id: str, *, url: Any = _UNSET, event_types: Any = _UNSET,
               format: Any = _UNSET, description: Any = _UNSET, active: Any = _UNSET) -> WebhookEndpoint:
        """Change what is given. ``active=True`` re-enables the endpoint (its failure count starts again from
        zero); ``active=False`` pauses it: its deliveries fail until it is enabled again."""
        _require_admin(actor)
        endpoint = self._endpoint(endpoint_id)
        given = {k: v for k, v in dict(url=url, event_types=event_types, format=format,
                                       description=description).items() if v is not _UNSET}
        problems = _problems(**given)
        if active is not _UNSET and not isinstance(active, bool):
            problems["active"] = ["Must be true or false."]
        if problems:
            raise ValidationError("The webhook has invalid fields.", problems)
        if "event_types" in given:
            given["event_types"] = tuple(dict.fromkeys(given["event_types"]))
        changed = replace(endpoint, **given)
        if active is True:
            changed = replace(changed, active=True, consecutive_failures=0, disabled_reason=None)
        elif active is False:
            changed = replace(changed, active=False, disabled_reason=None)
        self._store.save_endpoint(changed)
        return self._endpoint(endpoint_id)

    def remove(self, actor: User, endpoint_id: str) -> None:
        _require_admin(actor)
        if not self._store.remove_endpoint(endpoint_id):
            raise self._not_found(endpoint_id)

    # --- the delivery log

    def deliveries(self, actor: User, endpoint_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The endpoint's deliveries, newest first (test events included)."""
        _require_admin(actor)
        self._endpoint(endpoint_id)
        limit = max(1, min(int(limit), DELIVERIES_MAX))
        return [present_delivery(d) for d in self._store.deliveries(channel=WEBHOOK, target=endpoint_id,
                                                                    limit=limit)]

    def send_test(self, actor: User, endpoint_id: str) -> TestResult:
        """Send a ``ping`` event to the endpoint now (even while it is disabled) and say how it went; the call
        is in its delivery log. A failed test is not retried."""
        _require_admin(actor)
        endpoint = self._endpoint(endpoint_id)
        now = self._clock()
        event = test_event(endpoint, actor.username, now)
        delivery = Delivery.new(channel=WEBHOOK, event_id=event["event_id"], target=endpoint.id,
                                payload={"event": event, "title": "", "test": True}, now=now)
        # Not due for a while: this request sends it, the delivery sender must not take it meanwhile.
        delivery = replace(delivery, next_attempt_at=now + timedelta(minutes=10))
        if not self._store.enqueue([delivery]):  # a second test in the same millisecond
            event = {**event, "event_id": f"{event['event_id']}-{uuid.uuid4().hex[:8]}"}
            delivery = replace(delivery, event_id=event["event_id"], payload={**delivery.payload, "event": event})
            self._store.enqueue([delivery])
        outcome = self._sender.attempt(delivery)
        if outcome.status != SENT:
            outcome = replace(outcome, status=FAILED)
            self._store.save(outcome)
        return TestResult(status="sent" if outcome.status == SENT else "failed", response_code=outcome.response_code,
                          latency_ms=outcome.latency_ms, error=outcome.last_error, delivery_id=outcome.id)

    # ---

    def _endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self._store.endpoint(endpoint_id)
        if endpoint is None:
            raise self._not_found(endpoint_id)
        return endpoint

    @staticmethod
    def _not_found(endpoint_id: str) -> NotFound:
        return NotFound(f"No webhook {endpoint_id}.", key="webhook.not_found", params={"id": endpoint_id})


def present_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as admins read it: everything but the secret."""
    return {"id": endpoint.id, "url": endpoint.url, "event_types": list(endpoint.event_types),
            "format": endpoint.format, "description": endpoint.description, "active": endpoint.active,
            "consecutive_failures": endpoint.consecutive_failures, "disabled_reason": endpoint.disabled_reason,
            "created_at": endpoint.created_at, "created_by": endpoint.created_by}


def present_delivery(d: Delivery) -> dict[str, Any]:
    event = d.payload.get("event") or {}
    return {"id": d.id, "event_id": d.event_id, "event_type": event.get("type") or "", "status": d.status,
            "attempts": d.attempts, "response_code": d.response_code, "latency_ms": d.latency_ms,
            "last_error": d.last_error, "created_at": d.created_at, "sent_at": d.sent_at,
            "next_attempt_at": d.next_attempt_at}
