"""In-app notifications: made from ticket events by the event consumer, read through the API.

Who is told what:

* ``ticket.submitted`` - every manager except the requester: a ticket awaits their approval.
* ``ticket.approved`` / ``ticket.rejected`` (with the comment) / ``ticket.completed`` (with the
  fulfilment reference) / ``ticket.provisioning_failed`` - the requester.

Each event is applied exactly once in effect: its notifications and the record that it was
processed are committed together, so a redelivered message finds the record and does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from pflow.domain.errors import ConcurrencyConflict
from pflow.domain.notifications import Notification
from pflow.domain.users import User
from pflow.ports.events import ReceivedMessage, RejectMessage
from pflow.ports.repository import NotificationPage, UnitOfWork, check_page
from pflow.ports.users import UserDirectory

log = logging.getLogger(__name__)

CONSUMER = "notifications"
REQUIRED_FIELDS = ("event_id", "type", "ticket_id", "occurred_at")


def _quote(text: Any) -> str:
    return f'"{text}"' if text else "(untitled)"


def _params(event_type: str, actor: str, data: dict[str, Any]) -> dict[str, str] | None:
    """The values a notification of this kind is made from; None: nobody is told of this kind."""
    def pick(**values: Any) -> dict[str, str]:
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    title = data.get("title")
    if event_type == "ticket.submitted":
        return pick(title=title, amount=data.get("amount"), actor=data.get("requester") or actor)
    if event_type in ("ticket.approved", "ticket.rejected"):
        return pick(title=title, actor=data.get("approver") or actor, comment=data.get("comment"))
    if event_type == "ticket.completed":
        return pick(title=title, reference=data.get("fulfilment_reference"))
    if event_type == "ticket.provisioning_failed":
        return pick(title=title, error=data.get("error"))
    return None


def _message(event_type: str, p: dict[str, str]) -> str:
    """The English text for the requester (or, for a submission, the managers)."""
    title = _quote(p.get("title"))
    if event_type == "ticket.submitted":
        amount = f" for {p['amount']}" if "amount" in p else ""
        return f"Ticket {title}{amount} from {p.get('actor', '')} awaits your approval."
    if event_type == "ticket.approved":
        comment = f" Comment: {p['comment']}" if "comment" in p else ""
        return f"Your ticket {title} was approved by {p.get('actor', '')}.{comment}"
    if event_type == "ticket.rejected":
        comment = f": {p['comment']}" if "comment" in p else "."
        return f"Your ticket {title} was rejected by {p.get('actor', '')}{comment}"
    if event_type == "ticket.completed":
        reference = f" (fulfilment reference {p['reference']})" if "reference" in p else ""
        return f"Your ticket {title} is done{reference}."
    error = f": {p['error']}" if "error" in p else "."
    return f"Provisioning of your ticket {title} failed{error} An admin can retry it."


class NotificationService:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], users: UserDirectory) -> None:
        self._uow = uow_factory
        self._users = users

    # ------------------------------------------------------------ from events

    def recipients(self, event_type: str, data: dict[str, Any]) -> list[str]:
        requester = data.get("requester")
        if event_type == "ticket.submitted":
            return [u.username for u in self._users.list_users() if u.is_manager and u.username != requester]
        if event_type in ("ticket.approved", "ticket.rejected", "ticket.completed", "ticket.provisioning_failed"):
            return [requester] if requester else []
        return []

    def notifications_for(self, body: dict[str, Any]) -> list[Notification]:
        event_type = body["type"]
        data = body.get("data") or {}
        params = _params(event_type, body.get("actor", ""), data)
        if params is None:
            return []
        text = _message(event_type, params)
        created_at = _parse_time(body["occurred_at"])
        return [Notification.new(recipient=r, ticket_id=body["ticket_id"], kind=event_type, message=text,
                                 created_at=created_at, event_id=body["event_id"], params=params)
                for r in self.recipients(event_type, data)]

    def handle(self, message: ReceivedMessage) -> int:
        """Apply one ticket event; returns how many notifications it created (0 for a duplicate).
        Raises ``RejectMessage`` for a body that is not a ticket event (schema version 1)."""
        body = message.body
        missing = [f for f in REQUIRED_FIELDS if not body.get(f)]
        if missing:
            raise RejectMessage(f"not a ticket event: missing {', '.join(missing)}")
        if body.get("version", 1) != 1:
            raise RejectMessage(f"unsupported event schema version {body.get('version')!r}")
        try:
            notes = self.notifications_for(body)
        except (TypeError, ValueError) as exc:
            raise RejectMessage(f"malformed ticket event: {exc}") from exc
        with self._uow() as uow:
            if uow.processed_events.contains(CONSUMER, body["event_id"]):
                log.debug("event %s already processed", body["event_id"])
                return 0
            for note in notes:
                uow.notifications.add(note)
            uow.processed_events.add(CONSUMER, body["event_id"])
            try:
                uow.commit()
            except ConcurrencyConflict:
                log.info("event %s was processed concurrently by another consumer", body["event_id"])
                return 0
        if notes:
            log.info("event %s (%s): notified %s", body["event_id"], body["type"],
                     ", ".join(n.recipient for n in notes))
        return len(notes)

    # -------------------------------------------------------------- for users

    def list(self, user: User, *, unread_only: bool = False, page: int = 1, page_size: int = 20) -> NotificationPage:
        check_page(page, page_size)
        with self._uow() as uow:
            return uow.notifications.list_for(user.username, unread_only=unread_only, page=page, page_size=page_size)

    def mark_read(self, user: User, notification_id: str) -> Notification:
        with self._uow() as uow:
            notification = uow.notifications.mark_read(notification_id, user.username, _now())
            uow.commit()
            return notification

    def mark_all_read(self, user: User) -> int:
        with self._uow() as uow:
            count = uow.notifications.mark_all_read(user.username, _now())
            uow.commit()
            return count


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
