"""Deciding from the e-mail: a task e-mail's approve and reject links.

A link holds a token signed with PFLOW_SECRET_KEY (itsdangerous, which Flask uses for its own sessions): who
it was sent to, the ticket, the step, the decision, and a link id shared by the approve/reject pair of one
e-mail. It expires (PFLOW_EMAIL_LINK_TTL) and is used once: following it shows a confirmation page (GET
never acts); confirming (POST) completes the step as the recipient, through the same use case as the API, so
every check the API makes is made again (the recipient may still act on the step, separation of duties and
four eyes, the step still open, the form's rules), and the history says it was decided via e-mail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pflow.domain.errors import DomainError, NotFound
from pflow.domain.model import Ticket
from pflow.domain.steps import Step
from pflow.domain.outbound import Delivery
from pflow.domain.users import User
from pflow.ports.outbound import OutboundStore
from pflow.ports.repository import UnitOfWork
from pflow.ports.users import UserDirectory
from pflow.service.outbound import Links

SALT = "pflow.email-action"
APPROVE, REJECT = "approve", "reject"

# Why a link cannot be used (the page says it in the recipient's language)
INVALID = "invalid"        # not a link PFlow signed (altered, or another server's)
EXPIRED = "expired"
USED = "used"              # this e-mail's decision was taken already
CLOSED = "closed"          # the step is done or gone
NOT_ALLOWED = "not_allowed"  # the recipient may not act on it now (refusal code in ``refusal``)
NO_USER = "no_user"        # the recipient is no longer a user
NO_SIMPLE_DECISION = "form"  # the step asks for more than a decision: open it in PFlow


@dataclass(frozen=True)
class LinkView:
    """What the confirmation page shows: the decision a valid link would take, or why it cannot."""

    problem: str | None
    decision: str | None = None
    user: User | None = None
    ticket: Ticket | None = None
    step: Step | None = None
    link_id: str | None = None
    refusal: str | None = None
    # what a signed link names (also when it expired, was used or its step closed), so the page can offer
    # to open the ticket or step in PFlow instead
    ticket_id: str | None = None
    task_id: str | None = None

    @property
    def comment_required(self) -> bool:
        return self.decision == REJECT


class EmailActions:
    def __init__(self, secret_key: str, store: OutboundStore, users: UserDirectory, tickets: Any,
                 uow_factory: Callable[[], UnitOfWork], links: Links, *, ttl_s: int,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self._store = store
        self._users = users
        self._tickets = tickets
        self._uow = uow_factory
        self._links = links
        self.ttl_s = ttl_s
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def link_pair(self, recipient: str, ticket_id: str, task_id: str) -> dict[str, str]:
        """{"approve": token, "reject": token}: one e-mail's links, sharing one link id (one use between them)."""
        link_id = secrets.token_urlsafe(16)
        return {d: self._serializer.dumps({"u": recipient, "t": ticket_id, "k": task_id, "d": d, "l": link_id})
                for d in (APPROVE, REJECT)}

    def decision_links(self, user: User, delivery: Delivery) -> dict[str, str]:
        """The approve/reject URLs of a task e-mail, when its step is still open and a plain decision (a step
        whose form asks for more gets only the link to open it in PFlow)."""
        ticket_id, task_id = delivery.payload["ticket_id"], delivery.payload.get("task_id")
        if not task_id:
            return {}
        try:
            with self._uow() as uow:
                ticket = uow.tickets.get(ticket_id)
        except NotFound:
            return {}
        step = ticket.step(task_id)
        if step is None or not _simple_decision(step):
            return {}
        pair = self.link_pair(user.username, ticket_id, task_id)
        return {"approve_url": self._links.email_action(pair[APPROVE]),
                "reject_url": self._links.email_action(pair[REJECT])}

    def _load(self, token: str) -> dict[str, Any] | str:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_s)
        except SignatureExpired:
            return EXPIRED
        except BadSignature:
            return INVALID
        if not isinstance(data, dict) or data.get("d") not in (APPROVE, REJECT) or not all(
                isinstance(data.get(k), str) for k in "utkl"):
            return INVALID
        return data

    def inspect(self, token: str) -> LinkView:
        data = self._load(token)
        if isinstance(data, str):
            return LinkView(data, **(self._expired_refs(token) if data == EXPIRED else {}))
        refs = {"ticket_id": data["t"], "task_id": data["k"]}
        user = self._users.get(data["u"])
        if user is None:
            return LinkView(NO_USER, data["d"], **refs)
        if self._store.link_used(data["l"]):
            return LinkView(USED, data["d"], user, link_id=data["l"], **refs)
        try:
            ticket = self._tickets.sync(data["t"])
        except NotFound:
            return LinkView(CLOSED, data["d"], user, link_id=data["l"], **refs)
        step = ticket.step(data["k"])
        if step is None:
            return LinkView(CLOSED, data["d"], user, ticket, link_id=data["l"], **refs)
        if not _simple_decision(step):
            return LinkView(NO_SIMPLE_DECISION, data["d"], user, ticket, step, data["l"], **refs)
        refused = self._tickets.step_refusal(user, ticket, step)
        if refused:
            return LinkView(NOT_ALLOWED, data["d"], user, ticket, step, data["l"], refusal=refused, **refs)
        return LinkView(None, data["d"], user, ticket, step, data["l"], **refs)

    def _expired_refs(self, token: str) -> dict[str, Any]:
        """An expired link's signature is still PFlow's: what it names may be shown (never acted on)."""
        try:
            signed, data = self._serializer.loads_unsafe(token)
        except Exception:  # noqa: BLE001 - anything unreadable names nothing
            return {}
        if not signed or not isinstance(data, dict):
            return {}
        return {"decision": data.get("d") if data.get("d") in (APPROVE, REJECT) else None,
                "ticket_id": data.get("t") if isinstance(data.get("t"), str) else None,
                "task_id": data.get("k") if isinstance(data.get("k"), str) else None}

    def act(self, token: str, comment: str | None) -> tuple[LinkView, Ticket | None, DomainError | None]:
        """Take the link's decision as its recipient: (the page's view, the ticket after, the error the use case
        raised). A link whose decision was taken is used up, so a second click (or the other link of the pair)
        finds it used."""
        view = self.inspect(token)
        if view.problem is not None:
            return view, None, None
        assert view.step is not None and view.user is not None and view.link_id is not None
        field = view.step.decision_field
        assert field is not None
        try:
            ticket = self._tickets.complete_task(view.user, view.step.task_id,
                                                 {field.id: field.decision_value(view.decision == APPROVE)},
                                                 comment, via="email")
        except DomainError as exc:
            return view, None, exc
        self._store.use_link(view.link_id, self._clock(), view.user.username)
        return view, ticket, None


def _simple_decision(step: Step) -> bool:
    """A step decided by approve/reject alone: a decision field and no other required one."""
    field = step.decision_field
    return field is not None and not any(f.required and f is not field for f in step.form)
