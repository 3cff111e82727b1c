"""In-app notifications: made from ticket events by the event consumer, read through the API.

Who is told what:

* ``task.created`` - whoever may act on the new step: its assignee, else its candidate users and
  the members of its candidate groups (never the ticket's requester).
* ``task.completed`` (with the values and comment) / ``ticket.completed`` (with the fulfilment reference, when
  its automated steps returned one) / ``ticket.rejected`` /
  ``ticket.withdrawn`` - the requester (not when they did it themselves).
* ``ticket.needs_attention`` - every admin, with the failed step and its error (so they can retry it),
  and the requester, without the error: an exception's text names internals a requester can neither use
  nor should read.

Each event is applied exactly once in effect: its notifications and the record that it was
processed are committed together, so a redelivered message finds the record and does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from pflow.domain.errors import ConcurrencyConflict
from pflow.domain.events import SCHEMA_VERSION
from pflow.domain.notifications import Notification
from pflow.domain.users import User
from pflow.ports.events import ReceivedMessage, RejectMessage
from pflow.ports.repository import NotificationPage, UnitOfWork, check_page
from pflow.ports.users import UserDirectory

log = logging.getLogger(__name__)

CONSUMER = "notifications"
REQUIRED_FIELDS = ("event_id", "type", "ticket_id", "occurred_at")
KINDS = ("task.created", "task.completed", "ticket.completed", "ticket.rejected", "ticket.withdrawn",
         "ticket.needs_attention")


def _quote(text: Any) -> str:
    return f'"{text}"' if text else "(untitled)"


def _params(event_type: str, actor: str, data: dict[str, Any]) -> dict[str, str] | None:
    """The values a notification of this kind is made from; None: nobody is told of this kind."""
    def pick(**values: Any) -> dict[str, str]:
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    if event_type not in KINDS:
        return None
    task = data.get("task") or {}
    return pick(title=data.get("title"), actor=actor if actor != "system" else None,
                step=task.get("name") or data.get("step_name"),
                comment=data.get("comment"), error=data.get("error"), requester=data.get("requester"),
                reference=data.get("reference") if event_type == "ticket.completed" else None)


def _message(event_type: str, p: dict[str, str]) -> str:
    """The English text (the UI words it per language from ``params``)."""
    title = _quote(p.get("title"))
    if event_type == "task.created":
        return f"{p.get('step', 'A step')} of ticket {title} from {p.get('requester', '')} awaits you."
    if event_type == "task.completed":
        comment = f" Comment: {p['comment']}" if "comment" in p else ""
        return f"{p.get('actor', 'Someone')} completed {p.get('step', 'a step')} of your ticket {title}.{comment}"
    if event_type == "ticket.completed":
        reference = f" (fulfilment reference {p['reference']})" if "reference" in p else ""
        return f"Your ticket {title} is done{reference}."
    if event_type == "ticket.rejected":
        return f"Your ticket {title} was rejected."
    if event_type == "ticket.withdrawn":
        return f"Ticket {title} was withdrawn."
    if "error" in p:
        where = f" ({p['step']})" if "step" in p else ""
        return f"Ticket {title} needs attention: {p['error']}{where}. Retry it from the incidents page."
    return f"Ticket {title} needs attention. An admin has been told and can retry it."


class NotificationService:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], users: UserDirectory) -> None:
        self._uow = uow_factory
        self._users = users

    # ------------------------------------------------------------ from events

    def recipients(self, event_type: str, data: dict[str, Any], actor: str = "") -> list[str]:
        requester = data.get("requester")
        if event_type == "task.created":
            task = data.get("task") or {}
            if task.get("assignee"):
                people = {task["assignee"]}
            else:
                groups = set(task.get("candidate_groups") or ())
                people = set(task.get("candidate_users") or ()) | {
                    u.username for u in self._users.list_users() if groups & set(u.groups)}
            return sorted(people - {requester})
        if event_type in ("task.completed", "ticket.completed", "ticket.rejected", "ticket.withdrawn"):
            return [requester] if requester and requester != actor else []
        if event_type == "ticket.needs_attention":
            admins = {u.username for u in self._users.list_users() if u.is_admin}
            return sorted(admins | ({requester} if requester else set()))
        return []

    def notifications_for(self, body: dict[str, Any]) -> list[Notification]:
        event_type = body["type"]
        data = body.get("data") or {}
        params = _params(event_type, body.get("actor", ""), data)
        if params is None:
            return []
        created_at = _parse_time(body["occurred_at"])
        notes = []
        for recipient in self.recipients(event_type, data, body.get("actor", "")):
            own = params
            if event_type == "ticket.needs_attention" and not self._is_admin(recipient):
                own = {k: v for k, v in params.items() if k not in ("error", "step")}
            notes.append(Notification.new(recipient=recipient, ticket_id=body["ticket_id"], kind=event_type,
                                          message=_message(event_type, own), created_at=created_at,
                                          event_id=body["event_id"], params=own))
        return notes

    def _is_admin(self, username: str) -> bool:
        user = self._users.get(username)
        return user is not None and user.is_admin

    def handle(self, message: ReceivedMessage) -> int:
        """Apply one ticket event; returns how many notifications it created (0 for a duplicate).
        Raises ``RejectMessage`` for a body that is not a ticket event of this schema version."""
        body = message.body
        missing = [f for f in REQUIRED_FIELDS if not body.get(f)]
        if missing:
            raise RejectMessage(f"not a ticket event: missing {', '.join(missing)}")
        if body.get("version", 1) != SCHEMA_VERSION:
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
