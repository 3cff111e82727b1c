"""Domain events: what happened to a ticket, recorded by the aggregate itself.

Each event knows its public type (also the message routing key) and the data
a downstream consumer needs. The message body built from it is a public
contract (docs/events.md): ``{event_id, type, version, occurred_at,
ticket_id, actor, data}``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

SCHEMA_VERSION = 2  # 2: process-driven tickets (task.* events, derived status)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    type: ClassVar[str] = "ticket.event"

    ticket_id: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=_new_id)
    occurred_at: datetime = field(default_factory=_now)

    @property
    def routing_key(self) -> str:
        return self.type

    def to_message(self) -> dict[str, Any]:
        """The JSON-ready message body (see SCHEMA_VERSION)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": SCHEMA_VERSION,
            "occurred_at": self.occurred_at.isoformat(),
            "ticket_id": self.ticket_id,
            "actor": self.actor,
            "data": dict(self.data),
        }


@dataclass(frozen=True, kw_only=True)
class TicketCreated(DomainEvent):
    type: ClassVar[str] = "ticket.created"


@dataclass(frozen=True, kw_only=True)
class TicketSubmitted(DomainEvent):
    type: ClassVar[str] = "ticket.submitted"


@dataclass(frozen=True, kw_only=True)
class TaskCreated(DomainEvent):
    """A step opened: ``data.task`` names it and who may act on it (candidate groups and users, assignee)."""

    type: ClassVar[str] = "task.created"


@dataclass(frozen=True, kw_only=True)
class TaskCompleted(DomainEvent):
    """Someone completed a step: ``data.task``, ``data.values`` (its form values), ``data.comment``."""

    type: ClassVar[str] = "task.completed"


@dataclass(frozen=True, kw_only=True)
class TaskReminder(DomainEvent):
    """A step is due soon (``PFLOW_REMIND_BEFORE`` before ``data.task.due``) and still open; once per step."""

    type: ClassVar[str] = "task.reminder"


@dataclass(frozen=True, kw_only=True)
class TaskOverdue(DomainEvent):
    """A step's due time (``data.task.due``) has passed and it is still open; once per step."""

    type: ClassVar[str] = "task.overdue"


@dataclass(frozen=True, kw_only=True)
class TicketCompleted(DomainEvent):
    type: ClassVar[str] = "ticket.completed"


@dataclass(frozen=True, kw_only=True)
class TicketRejected(DomainEvent):
    type: ClassVar[str] = "ticket.rejected"


@dataclass(frozen=True, kw_only=True)
class TicketWithdrawn(DomainEvent):
    type: ClassVar[str] = "ticket.withdrawn"


@dataclass(frozen=True, kw_only=True)
class TicketNeedsAttention(DomainEvent):
    """An automated step used up its retries (``data.error``), or the process stopped unexpectedly."""

    type: ClassVar[str] = "ticket.needs_attention"


@dataclass(frozen=True, kw_only=True)
class TicketDecisionRefused(DomainEvent):
    """A step was completed in the engine, outside PFlow, by someone PFlow's checks do not allow (``data.by``,
    ``data.reason``: e.g. the requester approving their own ticket); it was not applied and the process started
    over. Admins are told: someone reached the engine around PFlow."""

    type: ClassVar[str] = "ticket.decision_refused"


@dataclass(frozen=True, kw_only=True)
class TicketResumed(DomainEvent):
    """A ticket that needed attention is moving again (an admin retried the failed step)."""

    type: ClassVar[str] = "ticket.resumed"


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        TicketCreated,
        TicketSubmitted,
        TaskCreated,
        TaskCompleted,
        TaskReminder,
        TaskOverdue,
        TicketCompleted,
        TicketRejected,
        TicketWithdrawn,
        TicketNeedsAttention,
        TicketDecisionRefused,
        TicketResumed,
    )
}


def event_from_message(body: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from its message body (the inverse of ``to_message``)."""
    cls = EVENT_TYPES.get(body.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown event type {body.get('type')!r}")
    return cls(
        event_id=body["event_id"],
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        ticket_id=body["ticket_id"],
        actor=body["actor"],
        data=dict(body.get("data") or {}),
    )


# --- checking a message that came from the bus -------------------------------------------------------------------
#
# A consumer trusts no message for having the right fields: anyone who can publish to the exchange could make one.
# ``check_message`` holds a body to the contract ``to_message`` writes (docs/events.md): exactly its fields, each of
# its type, a known event type, ids in PFlow's format and every text bounded. Whether the ticket it names exists
# (and is as the event says) is the consumer's to check against its store.

#: a ticket's and an event's id: a UUID as ``str(uuid.uuid4())`` writes it
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: an engine's task id (a UUID on both engines; kept by the inbox in 64 characters)
TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
NAME_MAX = 150  # a username or group name
STEP_MAX = 255  # a step's BPMN id or name
TEXT_MAX = 20_000  # a comment: 2000 through PFlow (COMMENT_MAX), but one found in the engine is the engine's
ERROR_MAX = 100_000  # an automated step's error, as the engine reported it
VALUES_MAX = 100_000  # a step's form values, as JSON
LIST_MAX = 200  # candidates, current steps, form values
SHOWN_MAX = 60  # how much of a refused value a reason quotes
REASON_MAX = 300  # how much of a reason a log line keeps

MESSAGE_FIELDS = frozenset({"event_id", "type", "version", "occurred_at", "ticket_id", "actor", "data"})
TASK_FIELDS = frozenset({"id", "step", "name", "candidate_groups", "candidate_users", "assignee", "due"})
STATUSES = frozenset({"draft", "in_progress", "needs_attention", "completed", "rejected", "withdrawn"})


class InvalidEvent(ValueError):
    """A message body that is not a ticket event of this schema; the text says why (quoting little of the body)."""


def shown(value: Any) -> str:
    """A value for a log line or a reason: its repr, cut to ``SHOWN_MAX`` characters (a forged message's text must
    not fill the log)."""
    text = repr(value)
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "…"


def _text(where: str, value: Any, max_len: int, *, optional: bool = False, pattern: re.Pattern | None = None,
          name: bool = False) -> None:
    """A string of at most ``max_len`` characters (a ``name``: a username or group, without control characters;
    free text such as a title, a comment or a step's BPMN name is as PFlow took it)."""
    if value is None and optional:
        return
    if type(value) is not str:
        raise InvalidEvent(f"{where} must be a string, not {type(value).__name__}")
    if not value and not optional:
        raise InvalidEvent(f"{where} must not be empty")
    if len(value) > max_len:
        raise InvalidEvent(f"{where} is longer than {max_len} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidEvent(f"{where} is not an id of PFlow's format: {shown(value)}")
    if name and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidEvent(f"{where} holds control characters")


def _names(where: str, value: Any, max_len: int = NAME_MAX, *, name: bool = True) -> None:
    if type(value) is not list:
        raise InvalidEvent(f"{where} must be a list, not {type(value).__name__}")
    if len(value) > LIST_MAX:
        raise InvalidEvent(f"{where} has more than {LIST_MAX} entries")
    for i, item in enumerate(value):
        _text(f"{where}[{i}]", item, max_len, name=name)


def _time(where: str, value: Any, *, optional: bool = False) -> None:
    _text(where, value, 40, optional=optional)
    if value is None:
        return
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{where} is not an ISO 8601 time: {shown(value)}") from None
    if parsed.tzinfo is None:
        raise InvalidEvent(f"{where} has no UTC offset")


def _task(value: Any) -> None:
    if type(value) is not dict:
        raise InvalidEvent(f"data.task must be an object, not {type(value).__name__}")
    unknown = set(value) - TASK_FIELDS
    if unknown:
        raise InvalidEvent(f"data.task has unknown fields: {shown(sorted(map(str, unknown)))}")
    _text("data.task.id", value.get("id"), 64, pattern=TASK_ID_PATTERN)
    _text("data.task.step", value.get("step"), STEP_MAX, optional=True)
    _text("data.task.name", value.get("name"), STEP_MAX, optional=True)
    for key in ("candidate_groups", "candidate_users"):
        if key in value:
            _names(f"data.task.{key}", value[key])
    _text("data.task.assignee", value.get("assignee"), NAME_MAX, optional=True, name=True)
    _time("data.task.due", value.get("due"), optional=True)


def _values(value: Any) -> None:
    if type(value) is not dict:
        raise InvalidEvent(f"data.values must be an object, not {type(value).__name__}")
    if len(value) > LIST_MAX:
        raise InvalidEvent(f"data.values has more than {LIST_MAX} entries")
    for key in value:
        _text("a name in data.values", key, STEP_MAX)
    try:  # values found in the engine may be the engine's own (a list, an object); nobody is told them
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        raise InvalidEvent("data.values is not JSON") from None
    if size > VALUES_MAX:
        raise InvalidEvent(f"data.values is longer than {VALUES_MAX} characters as JSON")


def _one_of(where: str, value: Any, known: frozenset[str]) -> None:
    if type(value) is not str or value not in known:
        raise InvalidEvent(f"{where} must be one of {', '.join(sorted(known))}, not {shown(value)}")


#: data field -> its check (a message's data holds the ticket's summary and its type's own fields)
_DATA_CHECKS: dict[str, Any] = {
    "type": lambda v: _text("data.type", v, 64),
    "title": lambda v: _text("data.title", v, 200),
    "requester": lambda v: _text("data.requester", v, NAME_MAX, name=True),
    "status": lambda v: _one_of("data.status", v, STATUSES),
    "current_steps": lambda v: _names("data.current_steps", v, STEP_MAX, name=False),  # BPMN names may break lines
    "task": _task,
    "values": _values,
    "comment": lambda v: _text("data.comment", v, TEXT_MAX, optional=True),
    "error": lambda v: _text("data.error", v, ERROR_MAX),
    "step": lambda v: _text("data.step", v, STEP_MAX),
    "step_name": lambda v: _text("data.step_name", v, STEP_MAX),
    "reference": lambda v: _text("data.reference", v, 500),
    "recorded_from": lambda v: _one_of("data.recorded_from", v, frozenset({"engine"})),
    "by": lambda v: _text("data.by", v, NAME_MAX, optional=True, name=True),
    "reason": lambda v: _text("data.reason", v, 64),
    # task.completed: done as a substitute for this user, or decided outside the UI and API (a task e-mail's link)
    "on_behalf_of": lambda v: _text("data.on_behalf_of", v, NAME_MAX, name=True),
    "via": lambda v: _one_of("data.via", v, frozenset({"email"})),
}


def check_message(body: Any) -> None:
    """Raise ``InvalidEvent`` (saying why) unless ``body`` is a ticket event exactly as ``to_message`` writes it."""
    if type(body) is not dict:
        raise InvalidEvent(f"the body must be an object, not {type(body).__name__}")
    missing = sorted(MESSAGE_FIELDS - set(body))
    if missing:
        raise InvalidEvent(f"not a ticket event: missing {', '.join(missing)}")
    unknown = set(body) - MESSAGE_FIELDS
    if unknown:
        raise InvalidEvent(f"not a ticket event: unknown fields {shown(sorted(map(str, unknown)))}")
    if type(body["version"]) is not int or body["version"] != SCHEMA_VERSION:
        raise InvalidEvent(f"unsupported event schema version {shown(body['version'])}")
    if body["type"] not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event type {shown(body['type'])}")
    _text("event_id", body["event_id"], 36, pattern=ID_PATTERN)
    _text("ticket_id", body["ticket_id"], 36, pattern=ID_PATTERN)
    _text("actor", body["actor"], NAME_MAX, name=True)
    _time("occurred_at", body["occurred_at"])
    data = body["data"]
    if type(data) is not dict:
        raise InvalidEvent(f"data must be an object, not {type(data).__name__}")
    unknown = set(data) - set(_DATA_CHECKS)
    if unknown:
        raise InvalidEvent(f"data has unknown fields: {shown(sorted(map(str, unknown)))}")
    for key, value in data.items():
        _DATA_CHECKS[key](value)
    if body["type"] in (TaskCreated.type, TaskCompleted.type, TaskReminder.type, TaskOverdue.type) \
            and "task" not in data:
        raise InvalidEvent(f"a {body['type']} event names no data.task")
