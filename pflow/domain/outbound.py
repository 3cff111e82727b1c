"""What PFlow sends out of itself: e-mails to people and webhook calls to other systems, each a ``Delivery``
made from one ticket event, and what people choose to receive (``Preferences``).

A delivery is keyed by (channel, event, target): the consumer may see an event twice, the key makes the second
one a no-op, so an event reaches each recipient and each endpoint once. Deliveries are sent by the delivery
sender, which retries a failed one with growing backoff until it succeeds or gives up.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

EMAIL = "email"
WEBHOOK = "webhook"
DELIVERY_CHANNELS = (EMAIL, WEBHOOK)

# Delivery states
PENDING = "pending"      # to be sent at next_attempt_at
SENT = "sent"            # the SMTP server or the endpoint accepted it
FAILED = "failed"        # gave up after the last attempt (visible to admins)
HELD = "held"            # an e-mail waiting for its recipient's daily digest
DIGESTED = "digested"    # sent as part of a digest
DELIVERY_STATES = (PENDING, SENT, FAILED, HELD, DIGESTED)

# What a person can choose to receive: channels x kinds.
IN_APP = "in_app"
PREFERENCE_CHANNELS = (IN_APP, EMAIL)
NEW_TASK, DECISION, REMINDER, FAILURE = "new_task", "decision", "reminder", "failure"
PREFERENCE_KINDS = (NEW_TASK, DECISION, REMINDER, FAILURE)

#: the preference kind of each event type people are told about
KIND_OF_EVENT = {
    "task.created": NEW_TASK,
    "task.completed": DECISION,
    "ticket.completed": DECISION,
    "ticket.rejected": DECISION,
    "ticket.withdrawn": DECISION,
    "task.reminder": REMINDER,
    "task.overdue": REMINDER,
    "ticket.needs_attention": FAILURE,
    "ticket.decision_refused": FAILURE,
}

LANGUAGES = ("en", "zh")

# Webhook formats: PFlow's own event body, or a chat message for an incoming webhook.
JSON, SLACK, TEAMS = "json", "slack", "teams"
WEBHOOK_FORMATS = (JSON, SLACK, TEAMS)

#: the headers a webhook delivery carries (docs/notifications.md)
SIGNATURE_HEADER = "X-PFlow-Signature"
TIMESTAMP_HEADER = "X-PFlow-Timestamp"
EVENT_HEADER = "X-PFlow-Event"
DELIVERY_HEADER = "X-PFlow-Delivery"
#: a receiver refuses a signature older than this (replay window)
REPLAY_WINDOW_S = 300


def language_of(value: str | None) -> str:
    """``zh``, ``zh-CN``, ``zh_TW`` -> ``zh``; anything else English."""
    return "zh" if (value or "").strip().lower().startswith("zh") else "en"


@dataclass(frozen=True)
class Preferences:
    """What one person receives: ``channels[(channel, kind)]`` on or off, and whether e-mails are gathered in a
    daily digest instead of sent one by one. Unset pairs take the admins' defaults (``merged``)."""

    channels: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    digest: bool | None = None

    #: PFlow's own defaults: everything on, e-mails one by one
    @classmethod
    def builtin(cls) -> "Preferences":
        return cls({(c, k): True for c in PREFERENCE_CHANNELS for k in PREFERENCE_KINDS}, False)

    def wants(self, channel: str, kind: str) -> bool:
        return bool(self.channels.get((channel, kind), True))

    def merged(self, defaults: "Preferences") -> "Preferences":
        """These choices over ``defaults`` (the admins'), over the built-in ones."""
        base = Preferences.builtin()
        channels = {**base.channels, **defaults.channels, **self.channels}
        digest = self.digest if self.digest is not None else (defaults.digest if defaults.digest is not None
                                                              else base.digest)
        return Preferences(channels, digest)

    def to_dict(self) -> dict[str, Any]:
        channels: dict[str, dict[str, bool]] = {}
        for (channel, kind), on in sorted(self.channels.items()):
            channels.setdefault(channel, {})[kind] = bool(on)
        return {"channels": channels, "digest": self.digest}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Preferences":
        data = data or {}
        channels = {(c, k): bool(on) for c, kinds in (data.get("channels") or {}).items()
                    for k, on in (kinds or {}).items() if c in PREFERENCE_CHANNELS and k in PREFERENCE_KINDS}
        digest = data.get("digest")
        return cls(channels, None if digest is None else bool(digest))


def preferences_problem(data: Any) -> dict[str, str]:
    """Field -> why, for a preferences document a user or admin sent; empty when it is fine."""
    problems: dict[str, str] = {}
    if not isinstance(data, Mapping):
        return {"_": "must be an object with 'channels' and/or 'digest'"}
    for key in data:
        if key not in ("channels", "digest"):
            problems[str(key)] = "unknown field (use 'channels' and 'digest')"
    channels = data.get("channels", {})
    if not isinstance(channels, Mapping):
        problems["channels"] = "must be an object: channel -> {kind: true|false}"
    else:
        for channel, kinds in channels.items():
            if channel not in PREFERENCE_CHANNELS:
                problems[f"channels.{channel}"] = f"unknown channel (one of {', '.join(PREFERENCE_CHANNELS)})"
            elif not isinstance(kinds, Mapping):
                problems[f"channels.{channel}"] = "must be an object: kind -> true|false"
            else:
                for kind, on in kinds.items():
                    if kind not in PREFERENCE_KINDS:
                        problems[f"channels.{channel}.{kind}"] = (f"unknown kind (one of "
                                                                  f"{', '.join(PREFERENCE_KINDS)})")
                    elif not isinstance(on, bool):
                        problems[f"channels.{channel}.{kind}"] = "must be true or false"
    if "digest" in data and data["digest"] is not None and not isinstance(data["digest"], bool):
        problems["digest"] = "must be true, false or null"
    return problems


@dataclass(frozen=True)
class Delivery:
    """One message to send: an e-mail to a user (``target`` = username) or a call to a webhook endpoint
    (``target`` = endpoint id), made from the event ``event_id``. ``payload`` holds what it is made from."""

    id: str
    channel: str
    event_id: str
    target: str
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    status: str = PENDING
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    response_code: int | None = None
    latency_ms: int | None = None

    @classmethod
    def new(cls, *, channel: str, event_id: str, target: str, payload: dict[str, Any], now: datetime,
            held: bool = False) -> "Delivery":
        return cls(id=str(uuid.uuid4()), channel=channel, event_id=event_id, target=target, payload=dict(payload),
                   created_at=now, next_attempt_at=now, status=HELD if held else PENDING)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.event_id, self.target)

    def succeeded(self, now: datetime, *, response_code: int | None = None,
                  latency_ms: int | None = None) -> "Delivery":
        return replace(self, status=SENT, attempts=self.attempts + 1, sent_at=now, last_error=None,
                       response_code=response_code, latency_ms=latency_ms)

    def failed(self, now: datetime, error: str, policy: "RetryPolicy", *, response_code: int | None = None,
               latency_ms: int | None = None) -> "Delivery":
        """One more failed attempt: due again after the policy's backoff, or FAILED after its last attempt."""
        attempts = self.attempts + 1
        give_up = attempts >= policy.max_attempts
        return replace(self, status=FAILED if give_up else PENDING, attempts=attempts, last_error=error[:1000],
                       response_code=response_code, latency_ms=latency_ms,
                       next_attempt_at=self.next_attempt_at if give_up else now + policy.backoff(attempts))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_s`` after the first failure, doubling, at most ``max_s``; ``max_attempts``
    attempts in all (the defaults keep trying for about a day)."""

    base_s: float = 5.0
    max_s: float = 900.0
    max_attempts: int = 100

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_s, self.base_s * (2 ** max(0, attempts - 1))))


@dataclass(frozen=True)
class WebhookEndpoint:
    """A URL an admin registered for the events it wants (``event_types``: patterns such as ``ticket.*``,
    ``task.created``, ``*``), called in ``format``. ``secret`` signs each call (HMAC-SHA256)."""

    id: str
    url: str
    secret: str
    event_types: tuple[str, ...]
    format: str = JSON
    description: str = ""
    active: bool = True
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    created_at: datetime | None = None
    created_by: str = ""

    def wants(self, event_type: str) -> bool:
        return self.active and matches(self.event_types, event_type)


def matches(patterns: Iterable[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with the endpoint's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, header: str, now_s: float,
                    window_s: int = REPLAY_WINDOW_S) -> bool:
    """What a receiver checks: the signature matches and the timestamp is within the replay window."""
    try:
        age = abs(now_s - int(timestamp))
    except ValueError:
        return False
    return age <= window_s and hmac.compare_digest(signature(secret, timestamp, body), header)
