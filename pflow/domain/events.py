"""Domain events: what happened to a ticket, recorded by the aggregate itself.

Each event knows its public type (also the message routing key) and the data
a downstream consumer needs. The message body built from it is a public
contract (docs/events.md): ``{event_id, type, version, occurred_at,
ticket_id, actor, data}``.
"""

from __future__ import annotations

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
        TicketCompleted,
        TicketRejected,
        TicketWithdrawn,
        TicketNeedsAttention,
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
