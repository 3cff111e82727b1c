"""Ticket use cases: they coordinate the ticket store, the ticket-type catalog and the process engine.

Who is the source of truth for what
-----------------------------------
* The ticket store owns the ticket: type, title, fields, requester, history, the events to publish,
  and a projection of its process (status, open steps with their candidates, current steps) that
  the API, the UI and the inbox read.
* The process engine owns the flow: which steps are open, who is a candidate, where it goes next,
  how it ends. The projection is refreshed from it (``sync``) after every command that moves the
  engine, after every automated step, and periodically; it never claims a step is done while the
  engine still has it open.

What happens when one side fails half-way:

* submit, engine down: 503; nothing committed, no instance. Commit fails after the instance
  started: the instance is cancelled (compensation); if even that fails, reconciliation cancels it.
* completing a step, engine down: 503, nothing changed. Commit fails after the engine completed the
  task: the engine holds the completion; ``sync`` records it from the engine (who completed it,
  the form values), if it passes the same checks as a completion through the API; one that does not
  is refused, audited, and the process starts over.
* two people complete one step at once: the engine lets exactly one through; the other gets
  ``ConcurrencyConflict`` (409) naming who did it.
* engine or automated step failed for good: the ticket ``needs_attention``; an admin retries.

No name of a particular process appears here: steps, topics and variables come from the BPMN and
the ticket-type files.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from pflow.domain.durations import add_duration
from pflow.domain.errors import (
    ConcurrencyConflict,
    EngineUnavailable,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationError,
)
from pflow.domain.model import (
    FINAL_STATUSES,
    FULFILMENT_REFERENCE,
    HistoryEntry,
    Progress,
    Ticket,
    TicketStatus,
    clean_comment,
    step_results,
)
from pflow.domain.steps import FormField, Refusal, Step
from pflow.domain.substitutes import Substitution
from pflow.domain.types import TicketType
from pflow.domain.users import SYSTEM, User
from pflow.ports.catalog import TicketTypeCatalog
from pflow.ports.process import (
    CompletedTask,
    ExternalTask,
    InstanceProgress,
    InstanceState,
    ProcessEngine,
    ProcessInstance,
    ProcessModel,
    TaskClaimedByOther,
    TaskNotFound,
    UserTask,
)
from pflow.ports.repository import Page, Principal, TaskItem, TaskQuery, TicketQuery, UnitOfWork
from pflow.ports.users import UserDirectory

log = logging.getLogger(__name__)
audit_log = logging.getLogger("pflow.audit")  # the audit trail (pflow.entrypoints.http.audit writes the API's lines)

UnitOfWorkFactory = Callable[[], UnitOfWork]

#: a process (or one of its user tasks) opts out of four eyes across steps with this property = "false"
FOUR_EYES_PROPERTY = "pflow.fourEyes"

REFUSAL_MESSAGES = {
    Refusal.NOT_A_CANDIDATE: "You are not among the people this step is offered to.",
    Refusal.OWN_TICKET: "You cannot complete a step of your own ticket (separation of duties).",
    Refusal.LAST_EDITOR: "You edited this ticket, so you cannot complete its steps (separation of duties).",
    Refusal.SECOND_DECISION: "You already decided another step of this ticket (four eyes).",
}


@dataclass(frozen=True)
class ProcessView:
    """The engine's view of a ticket's process, for the diagram."""

    ticket_id: str
    state: str | None
    definition_xml: str
    active_activity_ids: tuple[str, ...]
    completed_activity_ids: tuple[str, ...]
    incidents: tuple[str, ...] = ()


def step_from_task(task: UserTask) -> Step:
    return Step(task_id=task.id, definition_key=task.definition_key, name=task.name,
                candidate_groups=task.candidate_groups, candidate_users=task.candidate_users,
                assignee=task.assignee, due=task.due, created_at=task.created_at, form=task.form)


def check_form(form: tuple[FormField, ...], variables: Any) -> dict[str, Any]:
    """The values of a step's form, checked per field (``ValidationError`` names each bad one)."""
    if not isinstance(variables, dict):
        raise ValidationError("The step's form has invalid values.", details={"variables": ["Must be an object."]},
                              key="step.invalid_values")
    errors: dict[str, list[str]] = {}
    by_id = {f.id: f for f in form}
    for name in variables:
        if name not in by_id:
            errors.setdefault(name, []).append("Unknown field.")
    values: dict[str, Any] = {}
    for f in form:
        value = variables.get(f.id, f.default)
        if isinstance(value, str) and f.type != "string":
            value = value.strip() or None
        if value is None or value == "":
            if f.required:
                errors.setdefault(f.id, []).append("This field is required.")
            continue
        if f.type == "boolean" and not isinstance(value, bool):
            errors.setdefault(f.id, []).append("Must be true or false.")
        elif f.type == "long" and (isinstance(value, bool) or not isinstance(value, int)):
            errors.setdefault(f.id, []).append("Must be a whole number.")
        elif f.type == "long" and not -2**63 <= value < 2**63:
            errors.setdefault(f.id, []).append("Must be a 64-bit whole number.")
        elif f.type == "enum" and value not in {v for v, _ in f.values}:
            errors.setdefault(f.id, []).append("Must be one of: " + ", ".join(v for v, _ in f.values) + ".")
        elif f.type == "date" and not _is_date(value):
            errors.setdefault(f.id, []).append("Must be a date (YYYY-MM-DD).")
        elif f.type == "string" and not isinstance(value, str):
            errors.setdefault(f.id, []).append("Must be a string.")
        elif f.type == "string" and len(value) > 4000:
            errors.setdefault(f.id, []).append("Must be at most 4000 characters.")
        values[f.id] = value
    if errors:
        raise ValidationError("The step's form has invalid values.", details=errors, key="step.invalid_values")
    return values


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
        return True
    except ValueError:
        return False


def _is_rejection(step: Step, values: dict[str, Any]) -> bool:
    field = step.decision_field
    return field is not None and values.get(field.id) == field.decision_value(False)


class TicketService:
    """The approval system's commands and queries.

    Holds no per-request state: each call opens its own units of work (never one inside another,
    and none held open across an engine call), so one instance is shared by all request threads.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        engine: ProcessEngine,
        catalog: TicketTypeCatalog,
        *,
        users: UserDirectory | None = None,
        separation_of_duties: bool = True,
        retries: int = 3,
        heal_after_s: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._uow = uow_factory
        self._engine = engine
        self.catalog = catalog
        # Who may act: checked again for completions found in the engine rather than made through PFlow.
        self._users = users
        self.separation_of_duties = separation_of_duties
        self.retries = retries
        # A completion the engine has but the ticket not is healed from the engine only when it is older
        # than this: a younger one is the command that made it, still on its way to its own commit.
        self.heal_after_s = heal_after_s
        self._models: dict[str, ProcessModel] = {}
        self._models_lock = threading.Lock()
        self._step_reads = threading.local()  # automated_step_ticket's read, for after_automated_step
        self._sleep = time.sleep
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    # ------------------------------------------------------------------ queries

    def types(self) -> list[TicketType]:
        return self.catalog.list()

    def get(self, actor: User, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
        self._require_visible(actor, ticket)
        return ticket

    def history(self, actor: User, ticket_id: str) -> list[HistoryEntry]:
        return list(self.get(actor, ticket_id).history)

    def list(self, actor: User, query: TicketQuery) -> Page[Ticket]:
        if not self._sees_all(actor):
            # A requester sees their own tickets, whatever they ask for (their tasks are in the inbox).
            query = TicketQuery(**{**query.__dict__, "requester": actor.username})
        with self._uow() as uow:
            return uow.tickets.list(query)

    def tasks(self, actor: User, query: TaskQuery) -> Page[TaskItem]:
        """The caller's inbox: steps they may complete now, their own and those of the people they
        substitute now (``on_behalf_of`` names whose step it is)."""
        principals = self.standing_in_for(actor)
        query = TaskQuery(**{**query.__dict__, "username": actor.username, "groups": tuple(sorted(actor.groups)),
                             "separation_of_duties": self.separation_of_duties,
                             "on_behalf_of": tuple(Principal(p.username, tuple(sorted(p.groups)))
                                                   for p in principals)})
        with self._uow() as uow:
            page = uow.tickets.tasks(query)
        if not principals:
            return page
        items = [replace(item, on_behalf_of=getattr(self.acting(actor, item.ticket, item.step, principals)[1],
                                                    "username", None)) for item in page.items]
        return replace(page, items=items)

    def task(self, actor: User, task_id: str) -> TaskItem:
        with self._uow() as uow:
            ticket = uow.tickets.find_by_task(task_id)
        self._require_visible(actor, ticket)
        step = ticket.step(task_id)
        principal = self.acting(actor, ticket, step)[1] if step is not None else None
        return TaskItem(ticket=ticket, step=step, on_behalf_of=principal.username if principal else None)

    def step_refusal(self, actor: User, ticket: Ticket, step: Step,
                     principals: tuple[User, ...] | None = None) -> str | None:
        """None when the caller may complete the step now (themselves or as a substitute), else why not (a
        ``Refusal`` code). ``principals``: whom the caller substitutes now, when already read."""
        return self.acting(actor, ticket, step, principals)[0]

    def acting(self, actor: User, ticket: Ticket, step: Step,
               principals: tuple[User, ...] | None = None) -> tuple[str | None, User | None]:
        """(refusal or None, whom the caller would act for): the caller's own right to the step first; else,
        as the substitute of someone it is offered to, with separation of duties and four eyes for both."""
        rules = {"separation_of_duties": self.separation_of_duties, "four_eyes": step.four_eyes}
        reason = ticket.refusal(actor, step, **rules)
        if reason != Refusal.NOT_A_CANDIDATE:
            return reason, None
        for principal in (self.standing_in_for(actor) if principals is None else principals):
            if step.is_candidate(principal):
                return ticket.refusal(actor, step, acting_for=principal, **rules), principal
        return reason, None

    # ---------------------------------------------------------- substitutes

    def standing_in_for(self, actor: User) -> tuple[User, ...]:
        """The users whose substitute ``actor`` is now, with their groups (from the directory)."""
        if actor is SYSTEM:
            return ()
        with self._uow() as uow:
            running = uow.substitutes.standing_in_for(actor.username, self._clock())
        return tuple(self._user_named(s.user) for s in running)

    def _user_named(self, username: str) -> User:
        user = self._users.get(username) if self._users is not None else None
        return user or User(username)

    def substitute(self, actor: User) -> Substitution | None:
        """The substitute the caller named (running, upcoming or over), or None."""
        with self._uow() as uow:
            return uow.substitutes.get(actor.username)

    def substitutions_for(self, actor: User) -> list[Substitution]:
        """The substitutions in which the caller stands in for someone now."""
        with self._uow() as uow:
            return uow.substitutes.standing_in_for(actor.username, self._clock())

    def name_substitute(self, actor: User, substitute: Any, starts: datetime | None, ends: datetime) -> Substitution:
        """Name who acts for the caller from ``starts`` (now when None) until ``ends``, replacing an earlier one."""
        now = self._clock()
        name = substitute.strip() if isinstance(substitute, str) else ""
        if name and name != actor.username and self._users is not None and self._users.get(name) is None:
            raise ValidationError("The substitute cannot be named (substitute: No such user.)",
                                  details={"substitute": ["No such user."]}, key="validation.invalid")
        substitution = Substitution.name(actor.username, name, starts or now, ends, now)
        with self._uow() as uow:
            uow.substitutes.put(substitution)
            uow.commit()
        audit_log.info(json.dumps({"event": "substitute.named", "user": actor.username, "substitute": name,
                                   "starts": substitution.starts.isoformat(), "ends": substitution.ends.isoformat()},
                                  ensure_ascii=False))
        return substitution

    def remove_substitute(self, actor: User) -> bool:
        with self._uow() as uow:
            removed = uow.substitutes.remove(actor.username)
            uow.commit()
        if removed:
            audit_log.info(json.dumps({"event": "substitute.removed", "user": actor.username}))
        return removed

    # ---------------------------------------------------------- who holds a step

    def claim(self, actor: User, task_id: str) -> Ticket:
        """Take a step offered to the caller (or, as a substitute, to the one they stand in for, who then
        holds it), so the other candidates no longer see it. Refused to whoever may not complete it."""
        ticket, step = self._open_step(actor, task_id)
        if step.assignee and step.assignee != actor.username:
            reason, principal = self.acting(actor, ticket, step)
            if principal is None or principal.username != step.assignee or reason:
                raise ConcurrencyConflict(f"{step.assignee} has claimed this step already.",
                                          details={"assignee": step.assignee}, key="task.claimed_by",
                                          params={"by": step.assignee})
            return ticket  # held for the one the caller stands in for already
        reason, principal = self.acting(actor, ticket, replace(step, assignee=None))
        if reason:
            raise PermissionDenied("This step is not offered to you, so you cannot claim it."
                                   if reason == Refusal.NOT_A_CANDIDATE else REFUSAL_MESSAGES[reason],
                                   details={"reason": reason}, key="task.not_claimable"
                                   if reason == Refusal.NOT_A_CANDIDATE else f"step.refused.{reason}")
        holder = principal.username if principal else actor.username
        if step.assignee == holder:
            return ticket
        try:
            self._engine.claim(task_id, holder)
        except TaskClaimedByOther as exc:
            self.sync(ticket.id)
            raise ConcurrencyConflict(f"{exc.assignee} has claimed this step already.",
                                      details={"assignee": exc.assignee}, key="task.claimed_by",
                                      params={"by": exc.assignee}) from None
        except TaskNotFound:
            raise self._already_completed(self.sync(ticket.id), task_id) from None
        return self._noted(ticket, actor, "step_claimed", step, holder, principal)

    def unclaim(self, actor: User, task_id: str) -> Ticket:
        """Give a claimed step back to its candidates: whoever holds it, their substitute, or an admin."""
        ticket, step = self._open_step(actor, task_id)
        if not step.assignee:
            return ticket
        principals = {p.username for p in self.standing_in_for(actor)}
        if step.assignee != actor.username and step.assignee not in principals and not actor.is_admin:
            raise PermissionDenied("Only whoever holds this step (or an admin) can give it back.",
                                   key="task.not_yours")
        try:
            self._engine.unclaim(task_id)
        except TaskNotFound:
            raise self._already_completed(self.sync(ticket.id), task_id) from None
        return self._noted(ticket, actor, "step_unclaimed", step, None, None, previous=step.assignee)

    def reassign(self, actor: User, task_id: str, assignee: Any) -> Ticket:
        """An admin gives a step to someone (None: back to its candidates). The new assignee must be a known
        user whom separation of duties lets complete it."""
        if not actor.is_admin:
            raise PermissionDenied("Only an admin can reassign a step.", key="task.reassign_admin_only")
        ticket, step = self._open_step(actor, task_id)
        name = assignee.strip() if isinstance(assignee, str) else None
        name = name or None
        if name is not None:
            user = self._users.get(name) if self._users is not None else User(name)
            if user is None:
                raise ValidationError("The step cannot be reassigned (assignee: No such user.)",
                                      details={"assignee": ["No such user."]}, key="validation.invalid")
            reason = ticket.refusal(user, replace(step, assignee=name), separation_of_duties=self.separation_of_duties,
                                    four_eyes=step.four_eyes)
            if reason:
                raise ValidationError("The step cannot be reassigned (assignee: Separation of duties refuses "
                                      "this user this step.)",
                                      details={"assignee": ["Separation of duties refuses this user this step."]},
                                      key="validation.invalid")
        if step.assignee == name:
            return ticket
        try:
            self._engine.set_assignee(task_id, name)
        except TaskNotFound:
            raise self._already_completed(self.sync(ticket.id), task_id) from None
        return self._noted(ticket, actor, "step_reassigned", step, name, None, previous=step.assignee)

    def _open_step(self, actor: User, task_id: str) -> tuple[Ticket, Step]:
        ticket = self._ticket_of_open_task(actor, task_id)
        self._require_visible(actor, ticket)
        return ticket, ticket.step(task_id)

    def _ticket_of_open_task(self, actor: User, task_id: str) -> Ticket:
        """The ticket whose open step ``task_id`` is; a step completed already is said so to whoever sees
        its ticket (anyone else: not found)."""
        with self._uow() as uow:
            try:
                return uow.tickets.find_by_task(task_id)
            except NotFound:
                done = uow.tickets.find_by_completed_task(task_id)
                if done is None or not self._visible(actor, done):
                    raise
                raise self._already_completed(done, task_id) from None

    def _noted(self, ticket: Ticket, actor: User, action: str, step: Step, assignee: str | None,
               principal: User | None, previous: str | None = None) -> Ticket:
        """The ticket following its process after a change of who holds ``step``, with an audit line of it."""
        details: dict[str, Any] = {"step": step.definition_key, "step_name": step.name, "task_id": step.task_id}
        if assignee:
            details["assignee"] = assignee
        if previous:
            details["previous"] = previous
        if principal is not None:
            details["on_behalf_of"] = principal.username
        audit_log.info(json.dumps({"event": action.replace("step_", "step."), "ticket_id": ticket.id,
                                   "by": actor.username, **details}, ensure_ascii=False))
        for attempt in range(5):
            progress = self._progress(ticket.id)

            def change(t: Ticket) -> None:
                t.note(actor, action, details)
                t.follow(progress)

            try:
                return self._write(ticket, change, force=attempt > 0) or ticket
            except ConcurrencyConflict:
                continue
        return self.sync(ticket.id)

    def allowed_actions(self, actor: User, ticket: Ticket, principals: tuple[User, ...] | None = None) -> list[str]:
        actions = ticket.allowed_actions(actor)
        if self._shortcut_step(actor, ticket, principals) is not None:
            actions += ["approve", "reject"]
        return actions

    def process(self, actor: User, ticket_id: str) -> ProcessView:
        ticket = self.get(actor, ticket_id)
        state = self._engine.instance(ticket.id) if ticket.status != TicketStatus.DRAFT else None
        if state is None:
            type_ = self.catalog.get(ticket.type)
            xml = self._engine.definition_xml(self._engine.latest_definition_id(type_.process_key))
            return ProcessView(ticket.id, None, xml, (), ())
        return ProcessView(ticket.id, state.state, self._engine.definition_xml(state.definition_id),
                           state.active_activity_ids, state.completed_activity_ids, state.incidents)

    # ---------------------------------------------------------- drafts

    def create(self, actor: User, data: dict[str, Any]) -> Ticket:
        type_ = self.catalog.get(data["type"]) if data.get("type") else self.catalog.default
        fields = self.catalog.validate_fields(type_.key, data.get("fields") or {})
        ticket = Ticket.create(actor, type_.key, data.get("title"), fields)
        with self._uow() as uow:
            uow.tickets.add(ticket)
            uow.commit()
        return ticket

    def update(self, actor: User, ticket_id: str, data: dict[str, Any], expected_version: int | None = None) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            if expected_version is not None and expected_version != ticket.version:
                raise ConcurrencyConflict(
                    f"The ticket was changed by someone else (version {ticket.version}, you edited {expected_version}).",
                    details={"version": ticket.version},
                    key="ticket.changed", params={"version": ticket.version, "expected": expected_version},
                )
            fields = None
            if data.get("fields") is not None:
                fields = self.catalog.validate_fields(ticket.type, data["fields"], partial=True)
            ticket.update(actor, title=data.get("title"), fields=fields)
            uow.commit()
            return ticket

    def delete(self, actor: User, ticket_id: str) -> None:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            ticket.ensure_deletable(actor)
            uow.tickets.delete(ticket)
            uow.commit()

    def resubmit(self, actor: User, ticket_id: str) -> Ticket:
        """A new draft pre-filled from a rejected or withdrawn ticket (fields as its type accepts them now)."""
        old = self.get(actor, ticket_id)
        old.ensure_resubmittable(actor)
        type_ = self.catalog.get(old.type)
        known = {k: v for k, v in old.fields.items() if k in type_.field_names}
        draft = Ticket.create(actor, type_.key, old.title, known)
        draft.note(actor, "resubmitted_from", {"ticket_id": old.id})
        with self._uow() as uow:
            uow.tickets.add(draft)
            stored = uow.tickets.get(old.id)
            stored.note(actor, "resubmitted_as", {"ticket_id": draft.id})
            uow.commit()
        return draft

    # ---------------------------------------------------------- the process

    def submit(self, actor: User, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            type_ = self.catalog.get(ticket.type)
            # The type's form may have changed since the draft was written: check again before the process sees it.
            self.catalog.validate_fields(type_.key, ticket.fields)
            ticket.submit(actor)
            key = ticket.id  # read before the commit: a failed commit may leave attributes unreadable
            instance = self._engine.start(type_.process_key, key, self._variables(ticket))
            if not instance.created:
                instance = self._restart_if_stale(ticket, type_, instance)
            try:
                ticket.definition_id = instance.definition_id
                ticket.follow(self._progress(key, ticket.type))
                uow.commit()
            except ServiceUnavailable as exc:
                if instance.created and not isinstance(exc, EngineUnavailable):
                    self._compensate_start(key)
                # With the engine gone mid-submit a compensating call would only wait as long again: the
                # ticket stays a draft, a new submit takes the instance, else reconciliation cancels it.
                raise
            except BaseException:
                if instance.created:
                    self._compensate_start(key)
                raise
            return ticket

    def _restart_if_stale(self, ticket: Ticket, type_: TicketType, instance: ProcessInstance) -> ProcessInstance:
        """``start`` found an instance running for the draft: left by an earlier submission whose commit
        failed (or started by a concurrent one). If it runs on other values than the draft has now (the
        draft was edited since), it is cancelled and the process starts again with the draft as it is."""
        read = self._engine.progress(ticket.id, history=True)
        running = (read.variables or {}) if read else {}
        wanted = self._variables(ticket)
        names = set(type_.field_names) | {"title"}
        if all(_as_stored(wanted.get(n)) == _as_stored(running.get(n)) for n in names):
            return instance
        self._engine.cancel(ticket.id, "the draft was edited after this instance started")
        log.info("ticket %s: the process an earlier submission left running had old values; started again",
                 ticket.id)
        return self._engine.start(type_.process_key, ticket.id, wanted)

    def complete_task(self, actor: User, task_id: str, variables: Any, comment: Any = None, *,
                      via: str | None = None) -> Ticket:
        """Complete one open step with its form values. Checks who (a candidate, separation of duties,
        four eyes) and what (the step's form) before the engine is touched. ``via``: where the decision was
        taken outside the UI and API (``email``: a link in a task e-mail), recorded in the history."""
        ticket = self._ticket_of_open_task(actor, task_id)
        return self._complete_step(actor, ticket, ticket.step(task_id), variables, comment, via=via)

    def _complete_step(self, actor: User, ticket: Ticket, step: Step, variables: Any, comment: Any, *,
                       via: str | None = None) -> Ticket:
        task_id = step.task_id
        refused, principal = self.acting(actor, ticket, step)
        if refused:
            self._require_visible(actor, ticket)
            raise PermissionDenied(REFUSAL_MESSAGES[refused], details={"reason": refused},
                                   key=f"step.refused.{refused}")
        values = check_form(step.form, variables if variables is not None else {})
        comment = clean_comment(comment, required=_is_rejection(step, values))
        handed = False
        try:
            if principal is not None and step.assignee == principal.username:
                # The step is held for the one the caller stands in for: the engine records the caller as the
                # one who completed it, so it is handed to them first (and back should the completion fail).
                self._engine.set_assignee(task_id, actor.username)
                handed = True
            self._engine.complete_task(task_id, {**values, "comment": comment or ""}, completed_by=actor.username)
        except (TaskNotFound, ConcurrencyConflict):
            fresh = self.sync(ticket.id)
            by = None
            if not _recorded(fresh, task_id):
                # The winner's own commit may still be on its way: the engine knows who it was already, as the
                # task's completer or, while the winner's completion is still running, as the one who claimed it.
                by = next((c.completed_by for c in self._engine.completed_tasks(ticket.id) if c.id == task_id), None)
                if by is None:
                    by = self._claimed_by(task_id, ticket.id)
            raise self._already_completed(fresh, task_id, by) from None
        except BaseException:
            if handed:
                self._give_back(task_id, principal.username)
            raise
        return self._record(ticket, actor, step, values, comment, on_behalf_of=principal.username if principal else None,
                            via=via)

    def _give_back(self, task_id: str, assignee: str) -> None:
        try:
            self._engine.set_assignee(task_id, assignee)
        except Exception:  # the original error matters more
            log.warning("could not give user task %s back to %s after a failed completion", task_id, assignee)

    def _claimed_by(self, task_id: str, ticket_id: str) -> str | None:
        try:
            return self._engine.task(task_id).assignee
        except TaskNotFound:  # completed meanwhile
            return next((c.completed_by for c in self._engine.completed_tasks(ticket_id) if c.id == task_id), None)

    @staticmethod
    def _already_completed(ticket: Ticket, task_id: str, by: str | None = None) -> ConcurrencyConflict:
        done = next((h for h in reversed(ticket.history)
                     if h.action == "step_completed" and h.details.get("task_id") == task_id), None)
        by = done.actor if done else by
        who = f" by {by}" if by else ""
        return ConcurrencyConflict(f"This step was already completed{who}.",
                                   details={"status": ticket.status.value, "completed_by": by},
                                   key="step.already_completed_by" if by else "step.already_completed",
                                   params={"by": by} if by else {})

    def approve(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        return self._decide(actor, ticket_id, approve=True, comment=comment)

    def reject(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        return self._decide(actor, ticket_id, approve=False, comment=comment)

    def withdraw(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            ticket.withdraw(actor, comment)
            self._engine.cancel(ticket_id, f"withdrawn by {actor.username}")
            uow.commit()
            return ticket

    def retry(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        """An admin gives failed automated steps their retries again (or restarts a process that stopped)."""
        ticket = self.sync(ticket_id)
        ticket.ensure_retryable(actor)
        comment = clean_comment(comment)
        read = self._engine.progress(ticket_id)
        failed = [t for t in read.automated if t.retries == 0] if read else []
        running = read is not None and read.running
        if not failed and running:
            raise ConcurrencyConflict("The process has no failed step to retry.", key="ticket.nothing_to_retry")
        self._write(ticket, lambda t: t.resume(actor, comment, {"steps": [f.activity_id for f in failed]}))
        if failed:
            for task in failed:
                self._engine.retry_step(task.id, self.retries)
        else:
            type_ = self.catalog.get(ticket.type)
            self._engine.start(type_.process_key, ticket_id, self._variables(ticket))
        return self.sync(ticket_id)

    # ---------------------------------------------------- keeping in line with the engine

    def sync(self, ticket_id: str, known: Ticket | None = None) -> Ticket:
        """Bring the ticket's projection in line with its process instance, recording completions the
        engine holds that the ticket missed. Safe at any time, as often as wanted. ``known``: the ticket as
        the caller read it a moment ago (with its history), to go on from instead of reading it again; a
        ticket written since is read again when the write finds it changed."""
        ticket = known if known is not None and known.id == ticket_id else self._fresh(ticket_id)
        for _ in range(5):
            if ticket.status in FINAL_STATUSES:
                return ticket
            if ticket.status == TicketStatus.DRAFT:
                self._cancel_orphan(ticket)
                return ticket
            read = self._engine.progress(ticket_id)
            progress = self._progress_of(read, ticket.type)
            gone = self._gone(ticket, progress)
            if gone:
                # Steps the ticket has open are no longer open in the engine: read who completed them.
                read = self._engine.progress(ticket_id, history=True)
                progress = self._progress_of(read, ticket.type)
                gone = self._gone(ticket, progress)
            lost, young = self._lost_completions(ticket, gone, progress.running, read.completed if read else ())
            if young:
                progress = replace(progress, steps=progress.steps + tuple(young))
            if any(refused for _, _, refused in lost):
                self._start_over(ticket, lost)
                ticket = self._fresh(ticket_id)
                continue
            variables = (read.variables or {}) if (lost and read) else {}
            missed = self._missed_reference(ticket, progress, read, lost)
            try:
                written = self._write(ticket, lambda t: self._apply(t, progress, lost, variables, missed))
            except ConcurrencyConflict:
                written = self._fresh(ticket_id)  # someone else wrote it: follow again from theirs
            if written is None:
                return ticket
            ticket = written
        return ticket

    reconcile = sync  # the older name, used by `pflow reconcile`

    def automated_step_ticket(self, business_key: str) -> Ticket:
        """The ticket an automated step of its process works on (the worker's handlers read it, and do not
        change it: once the step is done, the ticket follows its process from this read, in this thread)."""
        ticket = self._fresh(business_key)
        self._step_reads.ticket = ticket
        return ticket

    def after_automated_step(self, business_key: str, task: ExternalTask | None = None,
                             results: dict[str, Any] | None = None) -> None:
        """The worker completed (or gave up on) an automated step of this ticket: record what the step
        returned (``task``: the step completed, ``results``: the variables it was completed with), then follow
        the process."""
        known, self._step_reads.ticket = getattr(self._step_reads, "ticket", None), None
        try:
            if task is not None:
                known = self._record_results(business_key, task, results, known)
            self.sync(business_key, known)
        except NotFound:
            log.warning("automated step for %s, which is not a ticket", business_key)

    def _record_results(self, ticket_id: str, task: ExternalTask, variables: dict[str, Any] | None,
                        known: Ticket | None) -> Ticket | None:
        """Keep the results of a completed automated step on its ticket, once (a step reported again, by a
        worker that retried its report or a second worker that redid it, finds them recorded). A ticket
        written meanwhile is read again and the results recorded on that."""
        results = step_results(variables)
        if not results:
            return known
        ticket = known if known is not None and known.id == ticket_id else None
        pause = 0.2
        for attempt in range(5):
            try:
                ticket = ticket or self._fresh(ticket_id)
                written = self._write(ticket, lambda t: t.record_results(
                    task.id, task.activity_id, task.activity_name or None, results))
                return written or ticket
            except ConcurrencyConflict:
                ticket = None  # someone else wrote it (a reconciliation pass, a person): read it again
            except ServiceUnavailable as exc:
                # Only this call has the results (the engine keeps them as process variables, not as the step's):
                # a store that is away for a moment is waited for, briefly, before they are given up.
                if attempt >= 2:
                    log.error("ticket %s: the results of step %s (%s) could not be recorded: %s", ticket_id,
                              task.activity_id, ", ".join(sorted(results)), exc.message)
                    raise
                self._sleep(pause)
                pause *= 2
                ticket = None
        log.warning("ticket %s: the results of step %s were not recorded (the ticket kept changing)", ticket_id,
                    task.activity_id)
        return None

    # ---------------------------------------------------------------- internals

    def _decide(self, actor: User, ticket_id: str, *, approve: bool, comment: str | None) -> Ticket:
        ticket = self.get(actor, ticket_id)
        step = self._shortcut_step(actor, ticket)
        if step is None:
            decisions = [s for s in ticket.steps if s.is_decision]
            if not decisions:
                fresh = self.sync(ticket_id)
                if fresh.status in FINAL_STATUSES or not any(s.is_decision for s in fresh.steps):
                    raise ConcurrencyConflict(f"No decision is open on this ticket; it is "
                                              f"{fresh.status.value.replace('_', ' ')}.",
                                              details={"status": fresh.status.value},
                                              key="ticket.no_open_decision", params={"status": fresh.status.value})
                ticket, decisions = fresh, [s for s in fresh.steps if s.is_decision]
                step = self._shortcut_step(actor, fresh)
            if step is None:
                mine = [s for s in decisions if s.is_candidate(actor)]
                if len(mine) > 1:
                    raise ValidationError("Several decisions are open for you on this ticket; complete one of "
                                          "them as a task.", details={"tasks": [s.task_id for s in mine]},
                                          about_fields=False, key="ticket.several_decisions",
                                          params={"count": len(mine)})
                reason = self.step_refusal(actor, ticket, (mine or decisions)[0])
                raise PermissionDenied(REFUSAL_MESSAGES[reason or Refusal.NOT_A_CANDIDATE],
                                       details={"reason": reason or Refusal.NOT_A_CANDIDATE},
                                       key=f"step.refused.{reason or Refusal.NOT_A_CANDIDATE}")
        field = step.decision_field
        # The ticket was read just now with the step open; a completion that won meanwhile is seen by the engine.
        return self._complete_step(actor, ticket, step, {field.id: field.decision_value(approve)}, comment)

    def _shortcut_step(self, actor: User, ticket: Ticket, principals: tuple[User, ...] | None = None) -> Step | None:
        """The one decision step the caller may complete now, if exactly one is open for them."""
        if principals is None:
            principals = self.standing_in_for(actor) if ticket.steps else ()
        mine = [s for s in ticket.steps if s.is_decision and self.step_refusal(actor, ticket, s, principals) is None]
        only_decision_fields = [s for s in mine if all(f.is_decision or not f.required for f in s.form)]
        return only_decision_fields[0] if len(mine) == 1 and only_decision_fields else None

    def _record(self, read: Ticket, actor: User, step: Step, values: dict[str, Any], comment: str | None,
                on_behalf_of: str | None = None, via: str | None = None) -> Ticket:
        """Record a completion the engine took, with the ticket's new progress, on the ticket as ``read``
        before the completion. A concurrent writer of the ticket (the worker following its own step) makes
        this read it again and apply again, never give up."""
        ticket_id = read.id
        for attempt in range(5):
            engine_read = self._engine.progress(ticket_id)
            progress = self._progress_of(engine_read, read.type)
            # The process may have ended already, its automated steps done by a worker that is not PFlow's:
            # their results are read now (before the ticket's transaction), as the next sync would have.
            missed = (self._missed_reference(read, progress, engine_read, [(step, None, None)])
                      if engine_read is not None and self._has_automated_steps(engine_read) else {})
            with self._uow() as uow:
                ticket = uow.tickets.attach(read) if attempt == 0 else uow.tickets.get(ticket_id)
                if not _recorded(ticket, step.task_id):
                    ticket.record_step(actor, step, values, comment, on_behalf_of=on_behalf_of,
                                       details={"via": via} if via else None)
                if missed:
                    ticket.record_results(None, None, None, missed, recorded_from="engine")
                ticket.follow(progress)
                try:
                    uow.commit()
                    return ticket
                except ConcurrencyConflict:
                    continue
        return self._fresh(ticket_id)

    def _progress(self, ticket_id: str, ticket_type: str | None = None) -> Progress:
        return self._progress_of(self._engine.progress(ticket_id), ticket_type)

    def _progress_of(self, read: InstanceProgress | None, ticket_type: str | None = None) -> Progress:
        if read is None:
            return Progress(running=False)
        if read.running and ticket_type is not None:
            read = replace(read, tasks=tuple(self._with_due(ticket_type, t) for t in read.tasks))
        if read.running:
            failed = [t for t in read.automated if t.retries == 0]
            return Progress(running=True, steps=tuple(self._with_rules(read.definition_id, step_from_task(t))
                                                      for t in read.tasks),
                            automated=tuple(t.activity_name or t.activity_id for t in read.automated),
                            incident=(failed[0].error_message or "the automated step failed") if failed else None,
                            incident_step=failed[0].activity_id if failed else None,
                            incident_step_name=(failed[0].activity_name or failed[0].activity_id) if failed else None)
        if read.state == InstanceState.COMPLETED:
            outcome = self._model(read.definition_id).outcomes.get(read.end_activity_id or "", "completed")
            return Progress(running=False, outcome=outcome)
        return Progress(running=False, stopped=True)

    @staticmethod
    def _gone(ticket: Ticket, progress: Progress) -> list[Step]:
        """Steps the ticket has open, and did not record, that the engine no longer has open."""
        still_open = {s.task_id for s in progress.steps}
        return [s for s in ticket.steps if s.task_id not in still_open and not _recorded(ticket, s.task_id)]

    def _lost_completions(self, ticket: Ticket, gone: list[Step], running: bool,
                          finished: tuple[CompletedTask, ...] | None
                          ) -> tuple[list[tuple[Step, Any, str | None]], list[Step]]:
        """Of the ``gone`` steps (see ``_gone``), those among the engine's ``finished`` tasks: the ones old enough not
        to be a command still on its way (or any, once the process has ended), as (step, completed task,
        refusal or None); and the younger ones, which stay on the ticket until their own command records
        them (or they grow old)."""
        done = {c.id: c for c in finished or ()}
        lost, young = [], []
        for step in gone:
            completed = done.get(step.task_id)
            if completed is None:
                continue  # not completed: cancelled with its instance, or moved on by an operator
            if self._young(completed.completed_at) and running:
                # A command still on its way records its own completion. Once the process has ended the
                # ticket follows it at once (the command may have read the process before it ended), and
                # records the step from the engine as that command would: it never ends without it.
                young.append(step)
                continue
            user = self._users.get(completed.completed_by) if (self._users and completed.completed_by) else None
            reason = Refusal.NOT_A_CANDIDATE if user is None else self.step_refusal(user, ticket, step)
            lost.append((step, completed, reason))
        return lost, young

    def _missed_reference(self, ticket: Ticket, progress: Progress, read: InstanceProgress | None,
                          lost: list[tuple[Step, Any, str | None]] = ()) -> dict[str, Any]:
        """Automated steps' results the ticket missed, read from the process's variables at its end (one read of
        the engine's history, at the end of a process only). When no step's results reached the ticket and the
        process has automated steps, another worker did them (``_results_from_engine``); otherwise, the
        fulfilment reference of a process that ended completed, when the ticket has none: the worker that
        provisioned it could not record it (the store was away, the worker died after completing the step)."""
        if read is None or progress.running or progress.stopped:
            return {}
        if not any(h.action == "step_results" for h in ticket.history) and self._has_automated_steps(read):
            return self._results_from_engine(ticket, read, [step for step, _, _ in lost])
        if progress.outcome != "completed" or ticket.fulfilment_reference:
            return {}
        if read.variables is None:
            read = self._engine.progress(ticket.id, history=True) or read
        return step_results({FULFILMENT_REFERENCE: (read.variables or {}).get(FULFILMENT_REFERENCE)})

    def _has_automated_steps(self, read: InstanceProgress) -> bool:
        try:
            return bool(read.definition_id and self._model(read.definition_id).topics)
        except (NotFound, ServiceUnavailable):
            return False

    def _results_from_engine(self, ticket: Ticket, read: InstanceProgress, lost: list[Step]) -> dict[str, Any]:
        """The results of automated steps that a worker other than PFlow's did (an official Camunda client, a
        worker of the user's own, on any engine): PFlow saw none of them reported, so at the end of the process
        they are read from its variables, less what the ticket started it with and what people's steps set."""
        if read.variables is None:
            read = self._engine.progress(ticket.id, history=True) or read
        known = set(self._variables(ticket)) | {"comment"} | set(ticket.results)
        known |= {f.id for step in [*ticket.steps, *lost] for f in step.form}  # people's steps, recorded or not
        for entry in ticket.history:
            if entry.action == "step_completed":
                known |= set((entry.details or {}).get("values") or {})
        return step_results({name: value for name, value in (read.variables or {}).items() if name not in known})

    def _apply(self, ticket: Ticket, progress: Progress, lost: list[tuple[Step, Any, str | None]],
               variables: dict[str, Any], missed: dict[str, Any] | None = None) -> None:
        for step, completed, _ in lost:
            user = self._users.get(completed.completed_by) if self._users else None
            values = {f.id: variables.get(f.id) for f in step.form if f.id in variables}
            principal = self.acting(user, ticket, step)[1] if user is not None else None
            ticket.record_step(user or User(completed.completed_by or "unknown"), step, values,
                               variables.get("comment") or None, details={"recorded_from": "engine"},
                               on_behalf_of=principal.username if principal else None)
            log.warning("ticket %s: recorded step %s completed in the engine by %s", ticket.id,
                        step.definition_key, completed.completed_by)
        if missed and ticket.record_results(None, None, None, missed, recorded_from="engine"):
            log.warning("ticket %s: recorded its automated steps' results from the engine (%s)", ticket.id,
                        ", ".join(sorted(missed)))
        ticket.follow(progress)

    def _start_over(self, ticket: Ticket, lost: list[tuple[Step, Any, str | None]]) -> None:
        """A completion found in the engine broke the rules: it is not applied; the process starts over."""
        type_ = self.catalog.get(ticket.type)
        refused = [(s, c, r) for s, c, r in lost if r]
        self._engine.cancel(ticket.id, "a step was completed outside PFlow's checks")
        instance = self._engine.start(type_.process_key, ticket.id, self._variables(ticket))
        for step, completed, reason in refused:
            log.error("ticket %s: refused step %s completed in the engine by %r (%s); the process starts over",
                      ticket.id, step.definition_key, completed.completed_by, reason)

        for step, completed, reason in refused:
            audit_log.warning(json.dumps({"event": "decision.refused", "ticket_id": ticket.id,
                                          "step": step.definition_key, "by": completed.completed_by,
                                          "reason": reason, "recorded_from": "engine"}, ensure_ascii=False))

        def note(t: Ticket) -> None:
            for step, completed, reason in refused:
                t.refuse_engine_decision(step.definition_key, step.name, completed.completed_by, reason)
            t.steps = []  # the new instance's steps come with the next sync
            t.definition_id = instance.definition_id

        self._write(ticket, note, force=True)

    def _young(self, at: datetime | None) -> bool:
        """Within the heal grace: a command that did this may still be on its way to record it."""
        return at is not None and at > datetime.now(timezone.utc) - timedelta(seconds=self.heal_after_s)

    def _cancel_orphan(self, ticket: Ticket) -> None:
        read = self._engine.progress(ticket.id)
        if read is not None and self._young(read.started_at):
            return  # young: a submission may still be on its way, or be retried, and take this instance
        if read is not None and read.running:
            self._engine.cancel(ticket.id, "the ticket is a draft: its submission was not stored")
            log.warning("ticket %s: cancelled the process left running for a draft", ticket.id)

    def _write(self, seen: Ticket, change: Callable[[Ticket], None], *, force: bool = False) -> Ticket | None:
        """Apply ``change`` to the stored ticket if nobody wrote it since ``seen``; returns the ticket as
        written, or None when ``change`` left it unchanged (then nothing is written)."""
        with self._uow() as uow:
            # Not read again unless forced: the commit refuses a ticket written since ``seen``.
            ticket = uow.tickets.get(seen.id) if force else uow.tickets.attach(seen)
            # Whole steps, not only their ids: a step's assignee can change while it stays open (a claim).
            before = (ticket.status, list(ticket.steps), list(ticket.current_steps), len(ticket.history),
                      ticket.attention)
            change(ticket)
            after = (ticket.status, list(ticket.steps), list(ticket.current_steps), len(ticket.history),
                     ticket.attention)
            if before == after and not ticket.events:
                return None
            uow.commit()
            return ticket

    def _model(self, definition_id: str) -> ProcessModel:
        # Deployed definitions never change, so their model is cached by definition id.
        with self._models_lock:
            model = self._models.get(definition_id)
        if model is None:
            model = self._engine.model(definition_id)
            with self._models_lock:
                self._models[definition_id] = model
        return model

    def _with_due(self, ticket_type: str, task: UserTask) -> UserTask:
        """The task with its type's default due time when its BPMN gave it none: set in the engine once (the
        engine then has it, so later reads find it there), counted from when the task was created."""
        if task.due is not None:
            return task
        try:
            duration = self.catalog.get(ticket_type).default_due(task.definition_key)
        except ValidationError:
            return task  # a type no longer declared: nothing to apply
        if duration is None:
            return task
        due = add_duration(task.created_at or datetime.now(timezone.utc), duration)
        try:
            self._engine.set_due(task.id, due)
        except TaskNotFound:
            return task  # completed meanwhile
        except ServiceUnavailable as exc:
            # The step stays without a due time for now; the next read of the ticket sets it.
            log.warning("ticket %s: could not set the due time of step %s (%s)", task.business_key,
                        task.definition_key, exc.message)
            return task
        return replace(task, due=due)

    def _with_rules(self, definition_id: str | None, step: Step) -> Step:
        """The step with its process's rules: four eyes unless the task or its process opts out."""
        if not definition_id:
            return step
        try:
            model = self._model(definition_id)
        except (NotFound, ServiceUnavailable):
            return step  # the stricter rule when the engine cannot say
        task = model.task_properties.get(step.definition_key, {})
        value = task.get(FOUR_EYES_PROPERTY, model.properties.get(FOUR_EYES_PROPERTY, "true"))
        return replace(step, four_eyes=str(value).strip().lower() != "false")

    @staticmethod
    def _variables(ticket: Ticket) -> dict[str, Any]:
        """What the process gets: the ticket's fields, plus who asked for what."""
        return {**ticket.fields, "ticket_id": ticket.id, "ticket_type": ticket.type, "title": ticket.title,
                "requester": ticket.requester}

    def _compensate_start(self, ticket_id: str) -> None:
        try:
            if self._fresh(ticket_id).status != TicketStatus.DRAFT:
                # A concurrent submission of the same draft won the commit with this instance: it is theirs.
                return
        except (ServiceUnavailable, NotFound):
            pass  # the store cannot say: the instance is cancelled, as when nobody else submitted
        try:
            self._engine.cancel(ticket_id, "the ticket's submission was not stored")
        except Exception:  # the original error matters more; reconciliation cancels it later
            log.exception("could not cancel the process of ticket %s after a failed commit", ticket_id)

    def _fresh(self, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            return uow.tickets.get(ticket_id)

    @staticmethod
    def _sees_all(actor: User) -> bool:
        return actor.is_manager or actor.is_admin or actor is SYSTEM

    def _visible(self, actor: User, ticket: Ticket) -> bool:
        if (self._sees_all(actor) or ticket.requester == actor.username
                or any(s.is_candidate(actor) for s in ticket.steps)
                or any(h.actor == actor.username for h in ticket.history)):
            return True
        # a substitute sees the tickets whose steps are offered to the one they stand in for
        return bool(ticket.steps) and any(s.is_candidate(p) for p in self.standing_in_for(actor) for s in ticket.steps)

    def _require_visible(self, actor: User, ticket: Ticket) -> None:
        if not self._visible(actor, ticket):
            raise NotFound(f"Ticket {ticket.id} was not found.", key="ticket.not_found", params={"id": ticket.id})


def _as_stored(value: Any) -> Any:
    """A variable's value as the engines keep it (numbers as floats, dates as ISO text), to compare."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _recorded(ticket: Ticket, task_id: str) -> bool:
    return any(h.action == "step_completed" and h.details.get("task_id") == task_id for h in ticket.history)
