"""The ticket aggregate: the business record of a request whose flow lives in a process.

A ticket has a type (which names its process), a title and the fields its type's form declares. Once
submitted, its status is read from its process instance and never kept ahead of it: ``follow``
takes what the engine says (open steps, automated steps, incidents, the end reached) and derives
status, current steps and the events to publish. What a person does on a step is recorded with
``record_step``, after the rules every process shares (``pflow.domain.steps.refusal``).

Standard library only: validation against a type's form is the catalog's job (pflow.ports.catalog).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from pflow.domain import events as ev
from pflow.domain.errors import InvalidTransition, PermissionDenied, ValidationError
from pflow.domain.steps import Step, refusal
from pflow.domain.users import SYSTEM, User

TITLE_MAX = 200
COMMENT_MAX = 2000


class TicketStatus(StrEnum):
    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    NEEDS_ATTENTION = "needs_attention"  # an automated step failed, or the process stopped unexpectedly
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


S = TicketStatus
FINAL_STATUSES = frozenset({S.COMPLETED, S.REJECTED, S.WITHDRAWN})
#: the end event's ``pflow.outcome`` -> the final status it means
OUTCOMES = {"completed": S.COMPLETED, "rejected": S.REJECTED, "withdrawn": S.WITHDRAWN}


#: the result the built-in provisioning step returns: the reference the fulfilment system gave the request
FULFILMENT_REFERENCE = "fulfilment_reference"
#: how long one recorded result may be as text (a reference, a URL, an account name; not a document)
RESULT_MAX = 500


def step_results(variables: dict[str, Any] | None) -> dict[str, str | int | float | bool]:
    """The results an automated step returned that a ticket records: its variables with a plain value (text, a
    number, true/false), text cut to ``RESULT_MAX``. Nested values and empty ones are the process's own."""
    results: dict[str, str | int | float | bool] = {}
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not name:
            continue
        if isinstance(value, str):
            value = value.strip()[:RESULT_MAX]
            if value:
                results[name] = value
        elif isinstance(value, (bool, int, float)) and value == value:  # NaN is nobody's result
            results[name] = value
    return results


#: why a ticket needs attention when it is not an automated step's error (the error itself, otherwise)
ATTENTION_CODES = ("process_stopped", "process_missing")


def attention_code(attention: str | None) -> str | None:
    """The stable code of why a ticket needs attention: ``step_failed`` for an automated step's error, whose
    text (an exception's, naming internals) is for the admins only."""
    if attention is None:
        return None
    return attention if attention in ATTENTION_CODES else "step_failed"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(eq=True)
class HistoryEntry:
    """One line of a ticket's audit trail. ``comment`` is what a person wrote; ``details`` are the
    facts the system recorded (``changed``: field names; ``step``/``step_name``/``values``: a completed
    step and its form values, ``opened_at``: when it was opened; ``error``: why an automated step failed, with
    that step's ``step``/``step_name``; ``recorded_from``: ``engine``
    when the fact was found in the engine rather than made through PFlow), kept apart so a client
    can word them in its own language."""

    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    comment: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """Where the ticket's process is, as the engine says (built by the service from the process port)."""

    running: bool
    steps: tuple[Step, ...] = ()  # open user tasks
    automated: tuple[str, ...] = ()  # names of open automated steps (external tasks)
    incident: str | None = None  # the error of an automated step whose retries are used up
    incident_step: str | None = None  # that step's id in the BPMN
    incident_step_name: str | None = None  # and its name
    outcome: str | None = None  # when ended at an end event: its outcome (completed, rejected, withdrawn)
    stopped: bool = False  # ended without reaching an end event (cancelled in the engine)


def clean_text(value: Any, field_name: str, *, required: bool, max_len: int) -> str | None:
    """Strip and check one text; raises ``ValidationError`` naming the field."""
    errors: list[str] = []
    if value is None:
        if required:
            errors.append("This field is required.")
    elif not isinstance(value, str):
        errors.append("Must be a string.")
    else:
        value = value.strip()
        if required and not value:
            errors.append("Must not be empty.")
        if len(value) > max_len:
            errors.append(f"Must be at most {max_len} characters.")
    if errors:
        raise ValidationError(f"The {field_name} is invalid.", details={field_name: errors}, key="validation.invalid")
    return value or None


def clean_comment(comment: Any, *, required: bool = False) -> str | None:
    return clean_text(comment, "comment", required=required, max_len=COMMENT_MAX)


class Ticket:
    """A request of some type, decided by its process."""

    def __init__(
        self,
        *,
        id: str,
        type: str,
        title: str,
        fields: dict[str, Any],
        requester: str,
        status: TicketStatus = TicketStatus.DRAFT,
        steps: list[Step] | None = None,
        current_steps: tuple[str, ...] | list[str] = (),
        last_editor: str | None = None,
        deciders: tuple[str, ...] | list[str] = (),
        editors: tuple[str, ...] | list[str] = (),
        attention: str | None = None,
        definition_id: str | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        version: int = 1,
        history: list[HistoryEntry] | None = None,
        results: dict[str, Any] | None = None,
    ):
        self.id = id
        self.type = type
        self.title = title
        self.fields = dict(fields)
        self.requester = requester
        self.status = status
        self.steps = list(steps or [])
        self.current_steps = list(current_steps)
        self.last_editor = last_editor
        self.deciders = list(deciders)
        # everyone besides the requester who changed the draft (separation of duties refuses them all)
        self.editors = list(editors)
        self.attention = attention  # why it needs attention (the failed step's error)
        self.definition_id = definition_id  # the process version its instance runs on
        self.created_at = created_at or _now()
        self.updated_at = updated_at or self.created_at
        self.version = version
        self.history = history if history is not None else []
        # what its automated steps returned (``record_results``), e.g. the fulfilment reference; searchable
        self.results = dict(results or {})

    # Events are transient: a mapper may build the object without __init__.
    @property
    def events(self) -> list[ev.DomainEvent]:
        try:
            return self._events
        except AttributeError:
            self._events: list[ev.DomainEvent] = []
            return self._events

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.type} {self.status} v{self.version}>"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def step(self, task_id: str) -> Step | None:
        return next((s for s in self.steps if s.task_id == task_id), None)

    # --- creation and editing (a draft) ---

    @classmethod
    def create(cls, requester: User, type_key: str, title: Any, fields: dict[str, Any], *,
               ticket_id: str | None = None) -> "Ticket":
        """``fields`` must already fit the type's form (the catalog checked them)."""
        title = clean_text(title, "title", required=True, max_len=TITLE_MAX)
        now = _now()
        ticket = cls(id=ticket_id or str(uuid.uuid4()), type=type_key, title=title, fields=fields,
                     requester=requester.username, last_editor=requester.username, created_at=now, updated_at=now)
        ticket._log(requester, "created", None, S.DRAFT, at=now)
        ticket._emit(ev.TicketCreated, requester, now)
        return ticket

    def update(self, actor: User, *, title: Any = None, fields: dict[str, Any] | None = None) -> list[str]:
        """Change a draft's title and/or fields (already checked against the form); returns what changed."""
        self._require_owner_or_admin(actor, "edit")
        if self.status != S.DRAFT:
            raise InvalidTransition(f"Only a draft can be edited; this ticket is {self.status}.",
                                    details={"status": self.status.value, "action": "edit"},
                                    key="ticket.not_editable", params={"status": self.status.value})
        changed: list[str] = []
        if title is not None:
            title = clean_text(title, "title", required=True, max_len=TITLE_MAX)
            if title != self.title:
                self.title = title
                changed.append("title")
        for name, value in (fields or {}).items():
            if self.fields.get(name) != value:
                changed.append(name)
        if fields is not None:
            # None clears an optional field (the form was emptied).
            merged = {**self.fields, **fields}
            self.fields = {name: value for name, value in merged.items() if value is not None}
        if changed:
            now = _now()
            self.updated_at = now
            # Separation of duties counts every editor as a requester: ``editors`` keeps all of them (two admins
            # editing in turn are both refused), ``last_editor`` the latest. The requester is refused anyway, so
            # their own edit after someone else's does not clear that person.
            if actor.username != self.requester or self.last_editor in (None, self.requester):
                self.last_editor = actor.username
            if actor.username != self.requester and actor.username not in self.editors:
                self.editors = [*self.editors, actor.username]
            self._log(actor, "updated", S.DRAFT, S.DRAFT, at=now, details={"changed": sorted(changed)})
        return changed

    def ensure_deletable(self, actor: User) -> None:
        self._require_owner_or_admin(actor, "delete")
        if self.status != S.DRAFT:
            raise InvalidTransition(f"Only a draft can be deleted; this ticket is {self.status}.",
                                    details={"status": self.status.value, "action": "delete"},
                                    key="ticket.not_deletable", params={"status": self.status.value})

    # --- the process ---

    def submit(self, actor: User) -> None:
        self._require_owner_or_admin(actor, "submit")
        if self.status != S.DRAFT:
            raise InvalidTransition(f"Cannot submit a ticket that is {self.status}.",
                                    details={"status": self.status.value, "action": "submit"},
                                    key="ticket.not_submittable", params={"status": self.status.value})
        now = _now()
        self.status = S.IN_PROGRESS
        self.updated_at = now
        self._log(actor, "submitted", S.DRAFT, S.IN_PROGRESS, at=now)
        self._emit(ev.TicketSubmitted, actor, now)

    def follow(self, progress: Progress) -> bool:
        """Take the status, open steps and current steps from the process; returns whether anything
        changed. Never claims a step is done while the engine has it open."""
        if self.status == S.DRAFT or self.is_final:
            return False
        before = (self.status, list(self.steps), list(self.current_steps), self.attention)
        previous = self.status
        opened = [s for s in progress.steps if s.task_id not in {x.task_id for x in self.steps}]
        self.steps = list(progress.steps)
        self.current_steps = [s.name for s in progress.steps] + [n for n in progress.automated]
        now = _now()
        if progress.running:
            if progress.incident:
                self.status, self.attention = S.NEEDS_ATTENTION, progress.incident
            else:
                self.status, self.attention = S.IN_PROGRESS, None
        elif progress.outcome is not None:
            self.status = OUTCOMES.get(progress.outcome, S.COMPLETED)
            self.attention = None
            self.steps, self.current_steps = [], []
        elif progress.stopped:
            self.status, self.attention = S.NEEDS_ATTENTION, "process_stopped"
            self.steps, self.current_steps = [], []
        else:  # no instance at all: the submission never reached the engine
            self.status, self.attention = S.NEEDS_ATTENTION, "process_missing"
        for step in opened:
            self._emit(ev.TaskCreated, SYSTEM, now, data={"task": _step_data(step)})
        if self.status != previous:
            facts: dict[str, Any] = {}
            if self.status == S.NEEDS_ATTENTION:
                facts = {"error": self.attention}
                if progress.incident and progress.incident_step:
                    facts.update(step=progress.incident_step, step_name=progress.incident_step_name
                                 or progress.incident_step)
            self._log(SYSTEM, _STATUS_ACTIONS[self.status], previous, self.status, at=now, details=facts)
            told = dict(facts)
            if self.status == S.COMPLETED and self.fulfilment_reference:
                told["reference"] = self.fulfilment_reference  # the requester is told what they got
            self._emit(_STATUS_EVENTS[self.status], SYSTEM, now, data=told)
        changed = before != (self.status, list(self.steps), list(self.current_steps), self.attention)
        if changed:
            self.updated_at = now
        return changed

    def due_notice(self, step: Step, overdue: bool, at: datetime) -> ev.DomainEvent:
        """The event telling that an open step is due soon (``overdue`` False) or past its due time. It changes
        nothing about the ticket, so it is returned to be stored (once per step and kind) rather than recorded."""
        cls = ev.TaskOverdue if overdue else ev.TaskReminder
        return cls(ticket_id=self.id, actor=SYSTEM.username, occurred_at=at,
                   data={**self._summary(), "task": _step_data(step)})

    def refusal(self, user: User, step: Step, *, separation_of_duties: bool = True,
                four_eyes: bool = True, acting_for: User | None = None) -> str | None:
        """None when the user may complete the step, else why not (``pflow.domain.steps.Refusal``);
        ``acting_for``: as that person's substitute (the rules then hold for both)."""
        return refusal(user, step, requester=self.requester, last_editor=self.last_editor,
                       deciders=tuple(self.deciders), separation_of_duties=separation_of_duties,
                       four_eyes=four_eyes, editors=tuple(self.editors or ()), acting_for=acting_for)

    def record_step(self, actor: User, step: Step, values: dict[str, Any], comment: str | None, *,
                    details: dict[str, Any] | None = None, on_behalf_of: str | None = None) -> None:
        """A person completed ``step`` with these form values (the service checked who and what);
        ``on_behalf_of``: as that user's substitute (recorded, and both count as deciders of the ticket)."""
        now = _now()
        details = {**(details or {}), **({"on_behalf_of": on_behalf_of} if on_behalf_of else {})}
        entry = {"step": step.definition_key, "step_name": step.name, "task_id": step.task_id,
                 "values": dict(values), **details}
        if step.created_at is not None:  # how long the step was open (the dashboard's time per step)
            entry.setdefault("opened_at", step.created_at.isoformat())
        if step.due is not None:  # whether it was done in time (the dashboard's SLA)
            entry.setdefault("due", step.due.isoformat())
        for who in (actor.username, on_behalf_of):
            if step.is_decision and who and who not in self.deciders:
                self.deciders.append(who)
        self.updated_at = now
        self._log(actor, "step_completed", self.status, self.status, at=now, comment=comment, details=entry)
        self._emit(ev.TaskCompleted, actor, now, data={"task": _step_data(step), "values": dict(values),
                                                       "comment": comment, **details})

    def record_results(self, task_id: str | None, step: str | None, step_name: str | None,
                       results: dict[str, str | int | float | bool], *, recorded_from: str | None = None) -> bool:
        """An automated step (external task ``task_id`` at BPMN activity ``step``) was completed with these
        results: keep them on the ticket (a later step's result of the same name replaces an earlier one) and
        in an audit line. Once per task: a step reported again records nothing, nor do results the ticket
        has already (found in the engine first). Any status, a final one too: the ticket may have followed its
        process to its end before the results reached it. ``recorded_from="engine"``: read from the process's
        variables, the step unknown."""
        if not results or (task_id is not None and self.has_results_of(task_id)):
            return False
        if all(name in self.results and self.results[name] == value for name, value in results.items()):
            return False
        now = _now()
        self.results = {**self.results, **results}
        details: dict[str, Any] = {"results": dict(results)}
        if step:
            details.update(step=step, step_name=step_name or step)
        if task_id:
            details["task_id"] = task_id
        if recorded_from:
            details["recorded_from"] = recorded_from
        if isinstance(results.get(FULFILMENT_REFERENCE), str):
            details["reference"] = results[FULFILMENT_REFERENCE]  # what the UI words as the fulfilment reference
        self.updated_at = now
        self._log(SYSTEM, "step_results", self.status, self.status, at=now, details=details)
        return True

    def has_results_of(self, task_id: str) -> bool:
        return any(h.action == "step_results" and h.details.get("task_id") == task_id for h in self.history)

    @property
    def fulfilment_reference(self) -> str | None:
        value = self.results.get(FULFILMENT_REFERENCE)
        return value if isinstance(value, str) else None

    def note(self, actor: User, action: str, details: dict[str, Any] | None = None,
             comment: str | None = None) -> None:
        """An audit line that changes no status (e.g. a decision found in the engine and refused)."""
        self.updated_at = _now()
        self._log(actor, action, self.status, self.status, at=self.updated_at, comment=comment,
                  details=dict(details or {}))

    def refuse_engine_decision(self, step_key: str, step_name: str, by: str | None, reason: str) -> None:
        """A step completed in the engine outside PFlow's checks is not applied (the process starts over): noted in
        the history, and an event tells the admins."""
        details = {"recorded_from": "engine", "reason": reason, "step": step_key, "step_name": step_name, "by": by}
        self.note(SYSTEM, "engine_step_refused", details)
        self._emit(ev.TicketDecisionRefused, SYSTEM, self.updated_at,
                   {"step": step_key, "step_name": step_name, "by": by, "reason": reason, "recorded_from": "engine"})

    def withdraw(self, actor: User, comment: str | None = None) -> None:
        """The requester (or an admin) takes back a ticket in progress; the service cancels its instance."""
        self._require_owner_or_admin(actor, "withdraw")
        if self.status not in (S.IN_PROGRESS, S.NEEDS_ATTENTION):
            raise InvalidTransition(f"Cannot withdraw a ticket that is {self.status}.",
                                    details={"status": self.status.value, "action": "withdraw"},
                                    key="ticket.not_withdrawable", params={"status": self.status.value})
        comment = clean_comment(comment)
        now = _now()
        previous = self.status
        self.status, self.steps, self.current_steps, self.attention = S.WITHDRAWN, [], [], None
        self.updated_at = now
        self._log(actor, "withdrawn", previous, S.WITHDRAWN, at=now, comment=comment)
        self._emit(ev.TicketWithdrawn, actor, now, data={"comment": comment} if comment else {})

    def ensure_resubmittable(self, actor: User) -> None:
        if actor.username != self.requester and not actor.is_admin:
            raise PermissionDenied("Only the requester or an admin can resubmit this ticket.",
                                   key="ticket.owner_only", params={"action": "resubmit"})
        if self.status not in (S.REJECTED, S.WITHDRAWN):
            raise InvalidTransition(f"Only a rejected or withdrawn ticket can be resubmitted; this one is "
                                    f"{self.status}.", details={"status": self.status.value, "action": "resubmit"},
                                    key="ticket.not_resubmittable", params={"status": self.status.value})

    def ensure_retryable(self, actor: User) -> None:
        if not actor.is_admin:
            raise PermissionDenied("Only an admin can retry a failed step.", key="ticket.retry_admin_only")
        if self.status != S.NEEDS_ATTENTION:
            raise InvalidTransition(f"Nothing to retry: the ticket is {self.status}.",
                                    details={"status": self.status.value, "action": "retry"},
                                    key="ticket.not_retryable", params={"status": self.status.value})

    def resume(self, actor: User, comment: str | None = None, details: dict[str, Any] | None = None) -> None:
        """An admin retries what needed attention: the ticket is in progress again (audited as theirs).
        If the engine then refuses, the next ``follow`` puts it back."""
        self.ensure_retryable(actor)
        now = _now()
        self.updated_at = now
        self._log(actor, "retried", self.status, self.status, at=now, comment=comment, details=details)
        previous, self.status, self.attention = self.status, S.IN_PROGRESS, None
        self._log(SYSTEM, "resumed", previous, S.IN_PROGRESS, at=now)
        self._emit(ev.TicketResumed, actor, now)

    # --- queries the UI and the API use ---

    def allowed_actions(self, user: User) -> list[str]:
        """Ticket-level actions this user may take now (step actions are listed per step)."""
        actions: list[str] = []
        owner_or_admin = user.username == self.requester or user.is_admin
        if self.status == S.DRAFT and owner_or_admin:
            actions += ["edit", "submit", "delete"]
        if self.status in (S.IN_PROGRESS, S.NEEDS_ATTENTION) and owner_or_admin:
            actions.append("withdraw")
        if self.status == S.NEEDS_ATTENTION and user.is_admin:
            actions.append("retry")
        if self.status in (S.REJECTED, S.WITHDRAWN) and owner_or_admin:
            actions.append("resubmit")
        return actions

    # --- internals ---

    def _summary(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "requester": self.requester, "status": self.status.value,
                "current_steps": list(self.current_steps)}

    def _log(self, actor: User, action: str, from_status: TicketStatus | None, to_status: TicketStatus, *,
             at: datetime, comment: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.history.append(HistoryEntry(at=at, actor=actor.username, action=action, from_status=from_status,
                                         to_status=to_status, comment=comment, details=dict(details or {})))

    def _emit(self, event_cls: type[ev.DomainEvent], actor: User, at: datetime,
              data: dict[str, Any] | None = None) -> None:
        self.events.append(event_cls(ticket_id=self.id, actor=actor.username, occurred_at=at,
                                     data={**self._summary(), **(data or {})}))

    def _require_owner_or_admin(self, actor: User, verb: str) -> None:
        if actor.username != self.requester and not actor.is_admin:
            raise PermissionDenied(f"Only the requester or an admin can {verb} this ticket.",
                                   key="ticket.owner_only", params={"action": verb})


def _step_data(step: Step) -> dict[str, Any]:
    return {"id": step.task_id, "step": step.definition_key, "name": step.name,
            "candidate_groups": list(step.candidate_groups), "candidate_users": list(step.candidate_users),
            "assignee": step.assignee, "due": step.due.isoformat() if step.due else None}


_STATUS_ACTIONS = {S.IN_PROGRESS: "resumed", S.NEEDS_ATTENTION: "needs_attention", S.COMPLETED: "completed",
                   S.REJECTED: "rejected", S.WITHDRAWN: "withdrawn"}
_STATUS_EVENTS = {S.IN_PROGRESS: ev.TicketResumed, S.NEEDS_ATTENTION: ev.TicketNeedsAttention,
                  S.COMPLETED: ev.TicketCompleted, S.REJECTED: ev.TicketRejected, S.WITHDRAWN: ev.TicketWithdrawn}
