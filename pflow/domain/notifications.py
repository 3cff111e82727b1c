"""In-app notifications: a short message telling one user that something happened to a ticket.

``message`` is the English text; ``params`` are the values it was made from (title, actor, amount,
comment, reference, error), so a client can say the same in the reader's language from ``kind``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(eq=True)
class Notification:
    id: str
    recipient: str
    ticket_id: str
    kind: str  # the event type that caused it, e.g. "ticket.submitted"
    message: str
    created_at: datetime
    event_id: str | None = None
    read_at: datetime | None = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(cls, *, recipient: str, ticket_id: str, kind: str, message: str, created_at: datetime,
            event_id: str | None = None, params: dict[str, str] | None = None) -> "Notification":
        return cls(id=str(uuid.uuid4()), recipient=recipient, ticket_id=ticket_id, kind=kind, message=message,
                   created_at=created_at, event_id=event_id, params=dict(params or {}))

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def mark_read(self, at: datetime) -> None:
        """Idempotent: the first time it was read is kept."""
        if self.read_at is None:
            self.read_at = at
