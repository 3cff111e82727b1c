"""E-mails and webhook calls made from ticket events, and sent with retries.

The event consumer hands each checked event to ``OutboundDispatcher.dispatch`` with the in-app notifications
it made: the people told in the app are the people e-mailed (their preferences allowing, and an address
known), every active webhook endpoint whose event types match gets the event. Those become ``Delivery`` rows,
one per (channel, event, target), added before the consumer acknowledges the event: a redelivered event adds
nothing, a crash before the acknowledgement adds them on the next delivery. Nothing here talks to an SMTP
server or an endpoint, so a request or the consumer never waits for one.

``DeliverySender`` sends them: it claims due rows (a lease, so several senders share the work without
sending one twice), sends, and records the outcome; a failure is retried with exponential backoff
(``RetryPolicy``), so an SMTP server or receiver that is down for a while loses nothing. Each attempt of one
delivery carries the same Message-ID / delivery id, so a receiver can drop the one repeat a sender that died
between sending and recording can cause.

``DigestSender`` gathers the e-mails of people who chose a daily digest into one mail a day.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pflow.domain.events import SCHEMA_VERSION
from pflow.domain.model import Ticket
from pflow.domain.notifications import Notification
from pflow.domain.outbound import (DELIVERY_HEADER, DIGESTED, EMAIL, EVENT_HEADER, FAILED, IN_APP, KIND_OF_EVENT,
                                   SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK, Delivery, Preferences, RetryPolicy,
                                   WebhookEndpoint, language_of, signature)
from pflow.domain.users import User
from pflow.ports.outbound import DEFAULTS, DeliveryFailed, EmailMessage, Mailer, OutboundStore, WebhookTransport
from pflow.ports.users import UserDirectory

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class PreferenceService:
    """What each person receives; admins set the defaults everyone starts from."""

    def __init__(self, store: OutboundStore) -> None:
        self._store = store

    def defaults(self) -> Preferences:
        return self._store.preferences(DEFAULTS).merged(Preferences())

    def own(self, username: str) -> Preferences:
        """What ``username`` chose, without the defaults (null where they did not choose)."""
        return self._store.preferences(username)

    def effective(self, username: str) -> Preferences:
        return self._store.preferences(username).merged(self._store.preferences(DEFAULTS))

    def set_own(self, username: str, preferences: Preferences) -> Preferences:
        self._store.set_preferences(username, preferences)
        return self.effective(username)

    def set_defaults(self, preferences: Preferences) -> Preferences:
        self._store.set_preferences(DEFAULTS, preferences)
        return self.defaults()

    def wants(self, username: str, channel: str, event_type: str) -> bool:
        kind = KIND_OF_EVENT.get(event_type)
        return kind is None or self.effective(username).wants(channel, kind)


class OutboundDispatcher:
    """Turns one checked ticket event into deliveries (see the module's docstring)."""

    def __init__(self, store: OutboundStore, users: UserDirectory, preferences: PreferenceService, *,
                 email_enabled: bool, clock: Callable[[], datetime] = utc_now,
                 on_enqueued: Callable[[], None] | None = None) -> None:
        self._store = store
        self._users = users
        self._preferences = preferences
        self.email_enabled = email_enabled
        self._clock = clock
        self._on_enqueued = on_enqueued

    def in_app(self, notes: list[Notification]) -> list[Notification]:
        """The notifications whose recipients want them in the app."""
        return [n for n in notes if self._preferences.wants(n.recipient, IN_APP, n.kind)]

    def dispatch(self, body: dict[str, Any], ticket: Ticket | None, notes: list[Notification]) -> int:
        """Add the event's e-mails (one per notification whose recipient wants it by e-mail and has an address)
        and webhook calls (one per matching endpoint); returns how many were new."""
        now = self._clock()
        deliveries: list[Delivery] = []
        if self.email_enabled:
            for note in notes:
                user = self._users.get(note.recipient)
                if user is None or not user.email:
                    continue
                chosen = self._preferences.effective(user.username)  # one read per recipient
                kind = KIND_OF_EVENT.get(note.kind)
                if kind is not None and not chosen.wants(EMAIL, kind):
                    continue
                task = (body.get("data") or {}).get("task") or {}
                payload = {"kind": note.kind, "ticket_id": note.ticket_id, "params": dict(note.params),
                           "task_id": task.get("id") if note.kind == "task.created" else None,
                           "occurred_at": body["occurred_at"]}
                digest = bool(chosen.digest)
                deliveries.append(Delivery.new(channel=EMAIL, event_id=body["event_id"], target=user.username,
                                               payload=payload, now=now, held=digest))
        if ticket is not None:
            for endpoint in self._store.endpoints():
                if endpoint.wants(body["type"]):
                    deliveries.append(Delivery.new(channel=WEBHOOK, event_id=body["event_id"], target=endpoint.id,
                                                   payload={"event": body, "title": ticket.title}, now=now))
        added = self._store.enqueue(deliveries) if deliveries else 0
        if added and self._on_enqueued:
            self._on_enqueued()
        return added


# ------------------------------------------------------------------------------------------------ webhooks

def webhook_body(endpoint: WebhookEndpoint, event: dict[str, Any], title: str, links: "Links") -> dict[str, Any]:
    """What an endpoint receives: the event as documented (docs/events.md), or a Slack / Teams message."""
    if endpoint.format == "json":
        return event
    text = chat_text(event, title)
    url = links.ticket(event["ticket_id"])
    if endpoint.format == "slack":
        return {"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in PFlow"},
                                              "url": url}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"`{event['type']}` · {event['occurred_at']}"}]},
        ]}
    return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": text,
            "themeColor": "0B5CAD", "title": f"PFlow: {event['type']}", "text": text,
            "potentialAction": [{"@type": "OpenUri", "name": "Open in PFlow",
                                 "targets": [{"os": "default", "uri": url}]}]}


_CHAT = {
    "ticket.created": "{actor} created ticket {title}",
    "ticket.submitted": "{actor} submitted ticket {title}",
    "task.created": "{step} of ticket {title} awaits {who}",
    "task.completed": "{actor} completed {step} of ticket {title}",
    "task.reminder": "Reminder: {step} of ticket {title} is due {due}",
    "task.overdue": "{step} of ticket {title} is overdue",
    "ticket.completed": "Ticket {title} is done",
    "ticket.rejected": "Ticket {title} was rejected",
    "ticket.withdrawn": "{actor} withdrew ticket {title}",
    "ticket.needs_attention": "Ticket {title} needs attention",
    "ticket.decision_refused": "A decision on ticket {title} was refused",
    "ticket.resumed": "Ticket {title} is moving again",
}


def chat_text(event: dict[str, Any], title: str) -> str:
    data = event.get("data") or {}
    task = data.get("task") or {}
    who = task.get("assignee") or ", ".join(task.get("candidate_groups") or task.get("candidate_users") or []) or "someone"
    template = _CHAT.get(event["type"], "Ticket {title}: " + event["type"])
    return template.format(actor=event.get("actor") or "someone", title=f"\u201c{title or '(untitled)'}\u201d",
                           step=task.get("name") or "A step", who=who, due=task.get("due") or "")


def test_event(endpoint: WebhookEndpoint, actor: str, now: datetime) -> dict[str, Any]:
    """The body of "send test event": a ``ping`` of the event schema, about no ticket."""
    return {"event_id": f"test-{int(now.timestamp() * 1000)}", "type": "ping", "version": SCHEMA_VERSION,
            "occurred_at": now.isoformat(), "ticket_id": "", "actor": actor,
            "data": {"endpoint": endpoint.id, "message": "A test event from PFlow"}}


# ------------------------------------------------------------------------------------------------ sending

class Links:
    """PFlow's addresses as a recipient outside it opens them (PFLOW_PUBLIC_URL)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def ticket(self, ticket_id: str) -> str:
        return f"{self.base}/tickets/{ticket_id}"

    def task(self, task_id: str) -> str:
        return f"{self.base}/tasks/{task_id}"

    def email_action(self, token: str) -> str:
        return f"{self.base}/email-actions/{token}"

    def preferences(self) -> str:
        return f"{self.base}/preferences"


class MailComposer:
    """Writes an e-mail from a delivery's payload in the recipient's language (an adapter renders templates)."""

    def compose(self, kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, plain text, HTML)"""
        raise NotImplementedError


class DeliverySender:
    """Sends due deliveries until stopped (``run``), or once (``send_due``: tests, scripts)."""

    def __init__(self, store: OutboundStore, users: UserDirectory, *, mailer: Mailer | None,
                 transport: WebhookTransport, composer: MailComposer, links: Links,
                 decision_links: Callable[[User, Delivery], dict[str, str]] | None = None,
                 policy: RetryPolicy = RetryPolicy(), disable_after: int = 20, interval_s: float = 1.0,
                 lease_s: float = 60.0, webhook_timeout_s: float = 10.0, batch: int = 20,
                 clock: Callable[[], datetime] = utc_now, wakeup: threading.Event | None = None) -> None:
        self._store = store
        self._users = users
        self._mailer = mailer
        self._transport = transport
        self._composer = composer
        self._links = links
        self._decision_links = decision_links
        self.policy = policy
        self.disable_after = disable_after
        self.interval_s = interval_s
        self._lease = timedelta(seconds=lease_s)
        self._timeout = webhook_timeout_s
        self._batch = batch
        self._clock = clock
        self._wakeup = wakeup or threading.Event()
        self.sent = 0
        self.failed = 0

    def notify(self) -> None:
        self._wakeup.set()

    def run(self, stop: threading.Event) -> None:
        log.info("delivery sender started (e-mail %s)", "on" if self._mailer else "off")
        while not stop.is_set():
            try:
                busy = self.send_due()
            except Exception as exc:  # the store is down: wait, try again
                log.warning("delivery sender: %s", getattr(exc, "message", exc))
                busy = 0
            if not busy:
                self._wakeup.wait(self.interval_s)
                self._wakeup.clear()

    def send_due(self) -> int:
        """Send what is due now; returns how many attempts were made."""
        channel = None if self._mailer else WEBHOOK
        attempts = 0
        # One claim per attempt, its lease starting just before it: a batch claimed at once would keep its last
        # deliveries leased while the first ones are sent, and behind a slow server the lease would run out
        # before their turn, letting another sender take and send them too.
        while attempts < self._batch:
            now = self._clock()
            claimed = self._store.claim_due(now, now + self._lease, 1, channel)
            if not claimed:
                break
            self.attempt(claimed[0])
            attempts += 1
        return attempts

    def attempt(self, delivery: Delivery) -> Delivery:
        started = time.monotonic()
        code: int | None = None
        try:
            if delivery.channel == EMAIL:
                self._send_email(delivery)
            else:
                code = self._call_webhook(delivery)
        except DeliveryFailed as exc:
            latency = int((time.monotonic() - started) * 1000)
            outcome = delivery.failed(self._clock(), str(exc), self.policy, response_code=getattr(exc, "status", None),
                                      latency_ms=latency)
            self._store.save(outcome)
            self.failed += 1
            log.log(logging.ERROR if outcome.status == FAILED else logging.INFO,
                    "%s delivery %s of event %s to %s failed (attempt %d%s): %s", delivery.channel, delivery.id,
                    delivery.event_id, delivery.target, outcome.attempts,
                    ", giving up" if outcome.status == FAILED else f", next at {outcome.next_attempt_at:%H:%M:%S}",
                    exc)
            if delivery.channel == WEBHOOK and not delivery.payload.get("test"):  # a test never disables it
                self._endpoint_result(delivery.target, ok=False)
            return outcome
        outcome = delivery.succeeded(self._clock(), response_code=code,
                                     latency_ms=int((time.monotonic() - started) * 1000))
        self._store.save(outcome)
        self.sent += 1
        if delivery.channel == WEBHOOK and not delivery.payload.get("test"):
            self._endpoint_result(delivery.target, ok=True)
        return outcome

    def _endpoint_result(self, endpoint_id: str, ok: bool) -> None:
        endpoint = self._store.record_endpoint_result(endpoint_id, ok, self.disable_after)
        if endpoint is not None and not ok and not endpoint.active and endpoint.consecutive_failures == self.disable_after:
            log.error("webhook endpoint %s (%s) disabled: %s", endpoint.id, endpoint.url, endpoint.disabled_reason)

    # --- e-mail

    def _send_email(self, delivery: Delivery) -> None:
        assert self._mailer is not None
        user = self._users.get(delivery.target)
        if user is None or not user.email:
            raise DeliveryFailed(f"{delivery.target} has no e-mail address (any more)")
        if delivery.payload.get("digest"):
            kind, context = "digest", self._digest_context(user, delivery)
        else:
            kind, context = delivery.payload["kind"], self._context(user, delivery)
        language = language_of(user.language)
        subject, text, html = self._composer.compose(kind, language, context)
        self._mailer.send(EmailMessage(to=user.email, subject=subject, text=text, html=html, language=language,
                                       message_id=f"<{delivery.id}@pflow>",
                                       headers={"X-PFlow-Event": delivery.event_id, "X-PFlow-Kind": kind}))

    def _context(self, user: User, delivery: Delivery) -> dict[str, Any]:
        payload = delivery.payload
        context = {"user": {"username": user.username, "name": user.display_name or user.username},
                   "kind": payload["kind"], "params": payload.get("params") or {},
                   "ticket_url": self._links.ticket(payload["ticket_id"]),
                   "preferences_url": self._links.preferences(), "ticket_id": payload["ticket_id"]}
        if payload.get("task_id"):
            context["task_url"] = self._links.task(payload["task_id"])
            if self._decision_links is not None:
                context.update(self._decision_links(user, delivery))
        return context

    def _digest_context(self, user: User, delivery: Delivery) -> dict[str, Any]:
        items = [{"kind": i["kind"], "params": i.get("params") or {}, "ticket_url": self._links.ticket(i["ticket_id"]),
                  "occurred_at": i.get("occurred_at")} for i in delivery.payload["items"]]
        return {"user": {"username": user.username, "name": user.display_name or user.username}, "items": items,
                "preferences_url": self._links.preferences(), "day": delivery.payload.get("day")}

    # --- webhooks

    def _call_webhook(self, delivery: Delivery) -> int:
        endpoint = self._store.endpoint(delivery.target)
        if endpoint is None:
            raise DeliveryFailed("the endpoint was removed")
        if not endpoint.active and not delivery.payload.get("test"):
            raise DeliveryFailed(f"the endpoint is disabled ({endpoint.disabled_reason or 'by an admin'})")
        event = delivery.payload["event"]
        return self.post(endpoint, event, delivery.payload.get("title") or "", delivery.id)

    def post(self, endpoint: WebhookEndpoint, event: dict[str, Any], title: str, delivery_id: str) -> int:
        body = json.dumps(webhook_body(endpoint, event, title, self._links), separators=(",", ":"),
                          ensure_ascii=False).encode()
        timestamp = str(int(self._clock().timestamp()))
        headers = {"Content-Type": "application/json", "User-Agent": "PFlow-Webhooks/1",
                   EVENT_HEADER: event["type"], DELIVERY_HEADER: delivery_id, TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body)}
        result = self._transport.post(endpoint.url, body, headers, self._timeout)
        if not 200 <= result.status < 300:
            error = DeliveryFailed(f"the endpoint answered HTTP {result.status}")
            error.status = result.status  # type: ignore[attr-defined]
            raise error
        return result.status


class DigestSender:
    """Once a day at ``hour`` (UTC), one e-mail per person who chose the digest, gathering their held e-mails."""

    def __init__(self, store: OutboundStore, *, hour: int = 8, interval_s: float = 60.0,
                 clock: Callable[[], datetime] = utc_now, on_enqueued: Callable[[], None] | None = None) -> None:
        self._store = store
        self.hour = hour
        self.interval_s = interval_s
        self._clock = clock
        self._on_enqueued = on_enqueued

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                self.gather()
            except Exception as exc:
                log.warning("digest: %s", getattr(exc, "message", exc))

    def gather(self, *, force: bool = False) -> int:
        """Gather everything held until today's digest hour (or until now with ``force``); returns how many
        digests were added. The digest of one day is one delivery keyed by the day, so two processes
        gathering at once add it once, and the held items are marked gathered after."""
        now = self._clock()
        cut = now.replace(hour=self.hour, minute=0, second=0, microsecond=0)
        if force:
            cut = now + timedelta(microseconds=1)
        elif now < cut:
            return 0
        day = cut.date().isoformat()
        added = 0
        for username, items in self._store.held(cut).items():
            digest = Delivery.new(channel=EMAIL, event_id=f"digest-{day}{'-' + now.isoformat() if force else ''}",
                                  target=username, now=now,
                                  payload={"digest": True, "day": day,
                                           "items": [{"kind": i.payload["kind"], "ticket_id": i.payload["ticket_id"],
                                                      "params": i.payload.get("params") or {},
                                                      "occurred_at": i.payload.get("occurred_at")} for i in items]})
            if not self._store.enqueue([digest]):
                continue  # today's digest went out already (another process): these wait for tomorrow's
            added += 1
            for item in items:
                self._store.save(replace(item, status=DIGESTED, sent_at=now))
        if added and self._on_enqueued:
            self._on_enqueued()
        return added

