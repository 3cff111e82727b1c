"""In-app notifications: made from ticket events by the event consumer, read through the API.

Who is told what:

* ``task.created`` - whoever may act on the new step: its assignee, else its candidate users and
  the members of its candidate groups (never the ticket's requester).
* ``task.reminder`` / ``task.overdue`` - the same people, when the step is due soon / past its due time and
  still open (``pflow.service.reminders`` sends them, once each).
* ``task.completed`` (with the values and comment) / ``ticket.completed`` (with the fulfilment reference, when
  its automated steps returned one) / ``ticket.rejected`` /
  ``ticket.withdrawn`` - the requester (not when they did it themselves).
* ``ticket.decision_refused`` - every admin: a step was completed in the engine, around PFlow, by someone its
  checks do not allow (who, which step, why); it was not applied and the process started over.
* ``ticket.needs_attention`` - every admin, with the failed step and its error (so they can retry it),
  and the requester, without the error: an exception's text names internals a requester can neither use
  nor should read.

The bus is not trusted: a message is taken only when it is exactly a ticket event of the contract
(``pflow.domain.events.check_message``), names a ticket the store knows and fits it (its requester, a step
the ticket has, a completion its history records, the final status it reached, who did it). What a
notification says (title, step, comment, error, reference) is read from the stored ticket, not the
message. Anything else is refused (``RejectMessage``: dropped, logged once, counted in ``rejected``).

Each event is applied exactly once in effect: its notifications and the record that it was
processed are committed together, so a redelivered message finds the record and does nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from pflow.domain.errors import ConcurrencyConflict, NotFound
from pflow.domain.events import InvalidEvent, check_message, shown
from pflow.domain.model import HistoryEntry, Ticket
from pflow.domain.model import TicketStatus as S
from pflow.domain.notifications import Notification
from pflow.domain.users import SYSTEM, User
from pflow.ports.events import ReceivedMessage, RejectMessage
from pflow.ports.repository import NotificationPage, UnitOfWork, check_page
from pflow.ports.users import UserDirectory

if TYPE_CHECKING:
    from pflow.service.outbound import OutboundDispatcher

log = logging.getLogger(__name__)

CONSUMER = "notifications"
KINDS = ("task.created", "task.reminder", "task.overdue", "task.completed", "ticket.completed", "ticket.rejected", "ticket.withdrawn",
         "ticket.needs_attention", "ticket.decision_refused")


def _facts(body: dict[str, Any], ticket: Ticket) -> tuple[str, dict[str, Any]] | None:
    """Who did it and the data a notification is made from, taken from the stored ticket (its title, requester,
    steps and history), not from the message's text; None when the event is real but nobody needs telling now (a
    step that was opened and is already done). Raises ``InvalidEvent`` when the message does not fit the ticket."""
    event_type, data, actor = body["type"], body["data"], body["actor"]
    if "requester" in data and data["requester"] != ticket.requester:
        raise InvalidEvent("its requester is not the ticket's")
    told: dict[str, Any] = {"title": ticket.title, "requester": ticket.requester}
    if event_type == "task.created":
        _require_system(actor)
        task_id = data["task"]["id"]
        step = ticket.step(task_id)
        if step is None:
            # Completed, or gone with a withdrawal or a change in the engine, since: it awaits nobody now. Unless
            # the ticket did not change since the event says it opened: then there never was such a step.
            if _completion(ticket, task_id) is None and ticket.updated_at <= _parse_time(body["occurred_at"]):
                raise InvalidEvent(f"the ticket has no step {shown(task_id)}")
            return None
        told["task"] = {"name": step.name, "assignee": step.assignee, "candidate_groups": list(step.candidate_groups),
                        "candidate_users": list(step.candidate_users)}
        return actor, told
    if event_type in ("task.reminder", "task.overdue"):
        _require_system(actor)
        step = ticket.step(data["task"]["id"])
        if step is None:
            if _completion(ticket, data["task"]["id"]) is None and ticket.updated_at <= _parse_time(body["occurred_at"]):
                raise InvalidEvent(f"the ticket has no step {shown(data['task']['id'])}")
            return None  # done since: nobody needs reminding
        if step.due is None:
            raise InvalidEvent(f"step {shown(step.task_id)} has no due time")
        told["task"] = {"name": step.name, "assignee": step.assignee, "candidate_groups": list(step.candidate_groups),
                        "candidate_users": list(step.candidate_users), "due": step.due.isoformat()}
        return actor, told
    if event_type == "task.completed":
        entry = _completion(ticket, data["task"]["id"])
        if entry is None:
            raise InvalidEvent(f"the ticket records no completion of step {shown(data['task']['id'])}")
        if entry.actor != actor:
            raise InvalidEvent("its actor did not complete that step")
        told.update(task={"name": entry.details.get("step_name")}, comment=entry.comment)
        return actor, told
    final = {"ticket.completed": S.COMPLETED, "ticket.rejected": S.REJECTED, "ticket.withdrawn": S.WITHDRAWN}
    if event_type in final:
        if ticket.status != final[event_type]:
            raise InvalidEvent(f"the ticket is {ticket.status.value}")
        entry = _latest(ticket, _ACTIONS[event_type])
        if entry is None or entry.actor != actor:
            raise InvalidEvent(f"its actor is not who {'withdrew' if event_type == 'ticket.withdrawn' else 'ended'} "
                               "the ticket")
        if event_type == "ticket.completed":
            told["reference"] = ticket.fulfilment_reference
        if event_type == "ticket.withdrawn":
            told["comment"] = entry.comment  # why, as the one who withdrew it wrote it
        return actor, told
    if event_type == "ticket.decision_refused":
        _require_system(actor)
        at = _parse_time(body["occurred_at"])
        entry = next((h for h in reversed(ticket.history) if h.action == "engine_step_refused" and h.at == at), None)
        if entry is None or entry.details.get("step") != data.get("step"):
            raise InvalidEvent("the ticket's history records no such refused decision")
        told.update(step_name=entry.details.get("step_name"), by=entry.details.get("by"),
                    reason=entry.details.get("reason"))
        return actor, told
    if event_type == "ticket.needs_attention":
        _require_system(actor)
        entries = [h for h in ticket.history if h.action == "needs_attention"]
        if not entries:
            raise InvalidEvent("the ticket never needed attention")
        at = _parse_time(body["occurred_at"])
        entry = next((h for h in reversed(entries) if h.at == at), entries[-1])
        told.update(error=entry.details.get("error"), step_name=entry.details.get("step_name"))
        return actor, told
    return None


#: the history entry a final event was recorded with
_ACTIONS = {"ticket.completed": "completed", "ticket.rejected": "rejected", "ticket.withdrawn": "withdrawn"}


def _require_system(actor: str) -> None:
    if actor != SYSTEM.username:
        raise InvalidEvent("only the process itself does that")


def _completion(ticket: Ticket, task_id: str) -> HistoryEntry | None:
    return next((h for h in ticket.history if h.action == "step_completed" and h.details.get("task_id") == task_id),
                None)


def _latest(ticket: Ticket, action: str) -> HistoryEntry | None:
    return next((h for h in reversed(ticket.history) if h.action == action), None)


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
                reference=data.get("reference") if event_type == "ticket.completed" else None,
                by=data.get("by") if event_type == "ticket.decision_refused" else None,
                due=task.get("due") if event_type in ("task.reminder", "task.overdue") else None,
                reason=data.get("reason") if event_type == "ticket.decision_refused" else None)


def _message(event_type: str, p: dict[str, str]) -> str:
    """The English text (the UI words it per language from ``params``)."""
    title = _quote(p.get("title"))
    if event_type == "task.created":
        return f"{p.get('step', 'A step')} of ticket {title} from {p.get('requester', '')} awaits you."
    if event_type == "task.reminder":
        return f"Reminder: {p.get('step', 'A step')} of ticket {title} from {p.get('requester', '')} is due {p.get('due', '')}."
    if event_type == "task.overdue":
        return (f"{p.get('step', 'A step')} of ticket {title} from {p.get('requester', '')} is overdue "
                f"(it was due {p.get('due', '')}).")
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
    if event_type == "ticket.decision_refused":
        return (f"{p.get('step', 'A step')} of ticket {title} was completed in the engine by {p.get('by', 'someone')}, "
                f"outside PFlow's checks ({p.get('reason', 'refused')}): not applied, the process started over.")
    if "error" in p:
        where = f" ({p['step']})" if "step" in p else ""
        return f"Ticket {title} needs attention: {p['error']}{where}. Retry it from the incidents page."
    return f"Ticket {title} needs attention. An admin has been told and can retry it."


class NotificationService:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], users: UserDirectory,
                 outbound: "OutboundDispatcher | None" = None) -> None:
        self._uow = uow_factory
        self._users = users
        # e-mails and webhook calls of the same events (pflow.service.outbound), and people's in-app preferences
        self._outbound = outbound
        self._lock = threading.Lock()
        self.rejected = 0  # messages refused since the start (forged, malformed, for no known ticket)

    # ------------------------------------------------------------ from events

    def recipients(self, event_type: str, data: dict[str, Any], actor: str = "") -> list[str]:
        requester = data.get("requester")
        if event_type in ("task.created", "task.reminder", "task.overdue"):
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
        if event_type == "ticket.decision_refused":
            return sorted(u.username for u in self._users.list_users() if u.is_admin)
        return []

    def notifications_for(self, body: dict[str, Any], ticket: Ticket) -> list[Notification]:
        """The notifications of a checked event (``check_message``) about ``ticket``: who is told what is read from
        the ticket as stored, the message only says which event it is. Raises ``InvalidEvent`` when the event does
        not fit the ticket (a forgery, or a message about another ticket's step)."""
        event_type = body["type"]
        facts = _facts(body, ticket)
        if facts is None:
            return []
        actor, data = facts
        params = _params(event_type, actor, data)
        if params is None:
            return []
        created_at = _parse_time(body["occurred_at"])
        notes = []
        for recipient in self.recipients(event_type, data, actor):
            own = params
            if event_type == "ticket.needs_attention" and not self._is_admin(recipient):
                own = {k: v for k, v in params.items() if k not in ("error", "step")}
            notes.append(Notification.new(recipient=recipient, ticket_id=ticket.id, kind=event_type,
                                          message=_message(event_type, own), created_at=created_at,
                                          event_id=body["event_id"], params=own))
        return notes

    def _is_admin(self, username: str) -> bool:
        user = self._users.get(username)
        return user is not None and user.is_admin

    def _reject(self, why: str) -> NoReturn:
        with self._lock:
            self.rejected += 1
        raise RejectMessage(why)

    def handle(self, message: ReceivedMessage) -> int:
        """Apply one ticket event; returns how many notifications it created (0 for a duplicate).
        Raises ``RejectMessage`` (counted in ``rejected``) for a body that is not a ticket event of this schema
        version, names no ticket the store knows, or does not fit that ticket."""
        body = message.body
        try:
            check_message(body)
        except InvalidEvent as exc:
            self._reject(str(exc))
        with self._uow() as uow:
            if uow.processed_events.contains(CONSUMER, body["event_id"]):
                log.debug("event %s already processed", body["event_id"])
                return 0
            notes: list[Notification] = []
            ticket: Ticket | None = None
            if body["type"] in KINDS:  # the other kinds tell nobody (a deleted draft's ticket.created is one)
                try:
                    ticket = uow.tickets.get(body["ticket_id"])
                except NotFound:
                    self._reject(f"{body['type']} event {body['event_id']} names no known ticket "
                                 f"({body['ticket_id']})")
                try:
                    notes = self.notifications_for(body, ticket)
                except InvalidEvent as exc:
                    self._reject(f"{body['type']} event {body['event_id']} does not fit ticket {ticket.id}: {exc}")
            elif self._outbound is not None:
                try:
                    ticket = uow.tickets.get(body["ticket_id"])
                except NotFound:
                    ticket = None  # gone (a deleted draft): no webhook call about it
            if self._outbound is not None:
                # before the event is recorded as processed: should this fail, the event comes again and the
                # deliveries added already are not added twice
                self._outbound.dispatch(body, ticket, notes)
                notes = self._outbound.in_app(notes)
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
