"""The Ticket aggregate.

A ticket changes status only through the methods below. Each method checks
the transition and the actor's right to make it, appends a history entry and
records a domain event; the unit of work collects those events on commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pflow.domain import events as ev
from pflow.domain.errors import InvalidTransition, PermissionDenied, ValidationError
from pflow.domain.users import SYSTEM, User

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
AMOUNT_MAX = Decimal("999999999999.99")
COMMENT_MAX = 2000


class TicketStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    PROVISIONING_FAILED = "provisioning_failed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


S = TicketStatus

# The whole state machine in one place: action -> (allowed from, to).
TRANSITIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    "submit": (frozenset({S.DRAFT}), S.PENDING_APPROVAL),
    "approve": (frozenset({S.PENDING_APPROVAL}), S.APPROVED),
    "reject": (frozenset({S.PENDING_APPROVAL}), S.REJECTED),
    "complete": (frozenset({S.APPROVED}), S.COMPLETED),
    "fail_provisioning": (frozenset({S.APPROVED}), S.PROVISIONING_FAILED),
    "retry_provisioning": (frozenset({S.PROVISIONING_FAILED}), S.APPROVED),
}

FINAL_STATUSES = frozenset({S.REJECTED, S.COMPLETED})

# How each transition reads in the history.
HISTORY_ACTIONS = {
    "submit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "complete": "completed",
    "fail_provisioning": "provisioning_failed",
    "retry_provisioning": "provisioning_retried",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(eq=True)
class HistoryEntry:
    """One line of a ticket's audit trail. ``comment`` is what a person wrote; ``details`` are the
    facts the system recorded (``changed``: field names, ``reference``: fulfilment reference,
    ``error``: why provisioning failed), kept apart so a client can word them in its own language."""

    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    comment: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


# --- validation of user-supplied fields (the one place these rules live) ---


def _clean_text(value: Any, field: str, *, required: bool, max_len: int, errors: dict) -> str | None:
    if value is None:
        if required:
            errors.setdefault(field, []).append("This field is required.")
        return None if not required else ""
    if not isinstance(value, str):
        errors.setdefault(field, []).append("Must be a string.")
        return None
    value = value.strip()
    if required and not value:
        errors.setdefault(field, []).append("Must not be empty.")
    if len(value) > max_len:
        errors.setdefault(field, []).append(f"Must be at most {max_len} characters.")
    return value


def _clean_amount(value: Any, errors: dict) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.setdefault("amount", []).append("Must be a decimal number.")
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault("amount", []).append("Must be a decimal number.")
        return None
    if not amount.is_finite():
        errors.setdefault("amount", []).append("Must be a finite number.")
        return None
    if amount < 0:
        errors.setdefault("amount", []).append("Must be greater than or equal to 0.")
    elif amount > AMOUNT_MAX:
        errors.setdefault("amount", []).append(f"Must be at most {AMOUNT_MAX}.")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors.setdefault("amount", []).append("Must have at most 2 decimal places.")
    return amount.quantize(Decimal("0.01")) if "amount" not in errors else None


def _clean_priority(value: Any, errors: dict) -> Priority | None:
    if value is None:
        return Priority.NORMAL
    try:
        return Priority(value)
    except ValueError:
        errors.setdefault("priority", []).append(
            "Must be one of: " + ", ".join(p.value for p in Priority) + "."
        )
        return None


def validate_ticket_fields(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check and normalise title, description, amount and priority.

    With ``partial`` only the keys present are checked (an edit). Raises
    ``ValidationError`` whose ``details`` names every bad field at once.
    """
    errors: dict[str, list[str]] = {}
    known = {"title", "description", "amount", "priority"}
    for name in data:
        if name not in known:
            errors.setdefault(name, []).append("Unknown field.")
    clean: dict[str, Any] = {}
    if not partial or "title" in data:
        clean["title"] = _clean_text(data.get("title"), "title", required=True, max_len=TITLE_MAX, errors=errors)
    if not partial or "description" in data:
        clean["description"] = (
            _clean_text(data.get("description"), "description", required=False, max_len=DESCRIPTION_MAX, errors=errors)
            or ""
        )
    if not partial or "amount" in data:
        clean["amount"] = _clean_amount(data.get("amount"), errors)
    if not partial or "priority" in data:
        clean["priority"] = _clean_priority(data.get("priority"), errors)
    if errors:
        raise ValidationError("The ticket has invalid fields.", details=errors)
    return clean


def _clean_comment(comment: str | None, *, required: bool) -> str | None:
    errors: dict[str, list[str]] = {}
    value = _clean_text(comment, "comment", required=required, max_len=COMMENT_MAX, errors=errors)
    if errors:
        if required and (comment is None or not str(comment).strip()):
            raise ValidationError("A comment is required.", details=errors)
        raise ValidationError("The comment is invalid.", details=errors)
    return value or None


class Ticket:
    """A request that goes through approval and provisioning."""

    def __init__(
        self,
        *,
        id: str,
        title: str,
        description: str,
        amount: Decimal | None,
        priority: Priority,
        requester: str,
        status: TicketStatus = TicketStatus.DRAFT,
        approver: str | None = None,
        fulfilment_reference: str | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        version: int = 1,
        history: list[HistoryEntry] | None = None,
    ):
        self.id = id
        self.title = title
        self.description = description
        self.amount = amount
        self.priority = priority
        self.requester = requester
        self.status = status
        self.approver = approver
        self.fulfilment_reference = fulfilment_reference
        self.created_at = created_at or _now()
        self.updated_at = updated_at or self.created_at
        self.version = version
        self.history = history if history is not None else []

    # Events are transient: a mapper may build the object without __init__.
    @property
    def events(self) -> list[ev.DomainEvent]:
        try:
            return self._events
        except AttributeError:
            self._events: list[ev.DomainEvent] = []
            return self._events

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.status} v{self.version}>"

    # --- creation and editing ---

    @classmethod
    def create(cls, requester: User, data: dict[str, Any], *, ticket_id: str | None = None) -> "Ticket":
        fields = validate_ticket_fields(data)
        now = _now()
        ticket = cls(
            id=ticket_id or str(uuid.uuid4()),
            requester=requester.username,
            created_at=now,
            updated_at=now,
            **fields,
        )
        ticket.history.append(
            HistoryEntry(at=now, actor=requester.username, action="created", from_status=None, to_status=S.DRAFT)
        )
        ticket.events.append(ev.TicketCreated(ticket_id=ticket.id, actor=requester.username, occurred_at=now,
                                              data=ticket._summary()))
        return ticket

    def update(self, actor: User, data: dict[str, Any]) -> None:
        self._require_owner_or_admin(actor, "edit")
        if self.status != S.DRAFT:
            raise InvalidTransition(f"Only a draft can be edited; this ticket is {self.status}.",
                                    details={"status": self.status.value})
        changes = validate_ticket_fields(data, partial=True)
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            return
        for name, value in changed.items():
            setattr(self, name, value)
        now = _now()
        self.updated_at = now
        self.history.append(
            HistoryEntry(at=now, actor=actor.username, action="updated", from_status=S.DRAFT, to_status=S.DRAFT,
                         details={"changed": sorted(changed)})
        )

    # --- transitions ---

    def submit(self, actor: User) -> None:
        self._require_owner_or_admin(actor, "submit")
        self._transition("submit", actor, ev.TicketSubmitted)

    def approve(self, actor: User, comment: str | None = None, *, separation_of_duties: bool = True,
                details: dict[str, Any] | None = None) -> None:
        """``details``: system facts about how the decision was recorded (e.g. ``recorded_from``),
        kept apart from the decider's comment."""
        self._require_decider(actor, "approve", separation_of_duties)
        comment = _clean_comment(comment, required=False)
        self._check("approve")
        self.approver = actor.username
        self._transition("approve", actor, ev.TicketApproved, comment=comment, details=details, data=details)

    def reject(self, actor: User, comment: str | None, *, separation_of_duties: bool = True,
               details: dict[str, Any] | None = None) -> None:
        self._require_decider(actor, "reject", separation_of_duties)
        self._check("reject")
        comment = _clean_comment(comment, required=True)
        self.approver = actor.username
        self._transition("reject", actor, ev.TicketRejected, comment=comment, details=details, data=details)

    def complete_provisioning(self, actor: User, reference: str) -> None:
        if not reference:
            raise ValidationError("A fulfilment reference is required.",
                                  details={"reference": ["Must not be empty."]})
        self._check("complete")
        self.fulfilment_reference = reference
        self._transition("complete", actor, ev.TicketCompleted, details={"reference": reference},
                         data={"fulfilment_reference": reference})

    def fail_provisioning(self, actor: User, error: str) -> None:
        self._transition("fail_provisioning", actor, ev.ProvisioningFailed, details={"error": error} if error else {},
                         data={"error": error})

    def retry_provisioning(self, actor: User, comment: str | None = None) -> None:
        if not actor.is_admin:
            raise PermissionDenied("Only an admin can retry provisioning.")
        comment = _clean_comment(comment, required=False)
        self._transition("retry_provisioning", actor, ev.ProvisioningRetried, comment=comment)

    def resume_provisioning(self, details: dict[str, Any] | None = None) -> None:
        """The engine is provisioning again although the ticket recorded a failure (an admin's retry
        reached the engine but its commit did not): follow the engine."""
        self._transition("retry_provisioning", SYSTEM, ev.ProvisioningRetried, details=details, data=details)

    def note(self, actor: User, action: str, details: dict[str, Any] | None = None) -> None:
        """An audit line that changes no status (e.g. a decision found in the engine and refused)."""
        self.updated_at = _now()
        self.history.append(HistoryEntry(at=self.updated_at, actor=actor.username, action=action,
                                         from_status=self.status, to_status=self.status,
                                         details=dict(details or {})))

    # --- queries the UI and the API use ---

    def allowed_actions(self, user: User, *, separation_of_duties: bool = True) -> list[str]:
        """What this user may do right now (mirrors the checks in the methods above)."""
        actions = []
        owner_or_admin = user.username == self.requester or user.is_admin
        if self.status == S.DRAFT and owner_or_admin:
            actions += ["edit", "submit"]
        if self.status == S.PENDING_APPROVAL and user.is_manager and not (
            separation_of_duties and user.username == self.requester
        ):
            actions += ["approve", "reject"]
        if self.status == S.PROVISIONING_FAILED and user.is_admin:
            actions.append("retry_provisioning")
        return actions

    # --- internals ---

    def _summary(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "priority": self.priority.value if self.priority else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "requester": self.requester,
            "status": self.status.value,
        }

    def _check(self, action: str) -> None:
        allowed_from, _ = TRANSITIONS[action]
        if self.status not in allowed_from:
            raise InvalidTransition(
                f"Cannot {action.replace('_', ' ')} a ticket that is {self.status}.",
                details={"status": self.status.value, "action": action},
            )

    def _transition(self, action: str, actor: User, event_cls: type[ev.DomainEvent], *,
                    comment: str | None = None, details: dict[str, Any] | None = None,
                    data: dict[str, Any] | None = None) -> None:
        self._check(action)
        _, target = TRANSITIONS[action]
        previous = self.status
        now = _now()
        self.status = target
        self.updated_at = now
        self.history.append(HistoryEntry(at=now, actor=actor.username, action=HISTORY_ACTIONS[action],
                                         from_status=previous, to_status=target, comment=comment,
                                         details=details or {}))
        payload = {**self._summary(), "from_status": previous.value, "to_status": target.value}
        if comment:
            payload["comment"] = comment
        if self.approver:
            payload["approver"] = self.approver
        payload.update(data or {})
        self.events.append(event_cls(ticket_id=self.id, actor=actor.username, occurred_at=now, data=payload))

    def _require_owner_or_admin(self, actor: User, verb: str) -> None:
        if actor.username != self.requester and not actor.is_admin:
            raise PermissionDenied(f"Only the requester or an admin can {verb} this ticket.")

    def _require_decider(self, actor: User, verb: str, separation_of_duties: bool) -> None:
        if not actor.is_manager:
            raise PermissionDenied(f"Only a manager can {verb} a ticket.")
        if separation_of_duties and actor.username == self.requester:
            raise PermissionDenied(f"You cannot {verb} your own ticket (separation of duties).")
