"""Ticket use cases: they coordinate the ticket store and the workflow engine.

Who is the source of truth for what
-----------------------------------
* The ticket store (database) owns the ticket: its fields, status, history
  and the events to publish. The API and UI read tickets from it only.
* The workflow engine owns the process: which step is open, what comes next,
  and the decision variables (``approved``, ``comment``, ``approver``).

Every command checks the domain rules first, then moves the engine, then
commits the ticket. What happens when one side fails half-way:

* submit, engine down: ``EngineUnavailable`` (503); nothing was committed, the
  ticket stays ``draft`` and no instance exists. Commit fails after the
  instance started: the new instance is cancelled (compensation); if even that
  fails, submitting again reuses it (start is idempotent by business key).
* approve/reject, engine down: 503, ticket unchanged. Commit fails after the
  engine completed the user task: the engine already holds the decision. It is
  healed from the engine's variables (``reconcile``) by the next approve or
  reject on that ticket, by the provisioning worker when it picks the ticket up,
  and by ``pflow reconcile``.
* two managers decide at once: the engine lets exactly one complete the task;
  the other gets ``ConcurrencyConflict`` (409). Optimistic locking on the
  ticket version catches any other lost race at commit.
* retry of failed provisioning: the ticket is committed first (audited as the
  admin's action), then the engine's retries are reset; if the engine cannot be
  reached the ticket is put back to ``provisioning_failed`` and 503 is returned.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from pflow.domain.errors import (
    ConcurrencyConflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)
from pflow.domain.model import FINAL_STATUSES, HistoryEntry, Ticket, TicketStatus
from pflow.domain.users import MANAGER, SYSTEM, User
from pflow.ports.repository import Page, TicketQuery, UnitOfWork
from pflow.ports.users import UserDirectory
from pflow.ports.workflow import APPROVAL_TASK, InstanceState, ProcessState, TaskNotFound, WorkflowEngine

log = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class ProcessView:
    """The engine's view of a ticket's process, for the diagram."""

    ticket_id: str
    state: str | None
    definition_xml: str
    active_activity_ids: tuple[str, ...]
    completed_activity_ids: tuple[str, ...]
    incidents: tuple[str, ...] = ()


class TicketService:
    """The approval system's commands and queries.

    Holds no per-request state: each call opens its own unit of work, so one
    instance is safely shared by all request threads.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        engine: WorkflowEngine,
        *,
        separation_of_duties: bool = True,
        provisioning_retries: int = 3,
        users: UserDirectory | None = None,
        decision_commit_grace_s: float = 1.0,
    ) -> None:
        self._uow = uow_factory
        self._engine = engine
        self.decision_commit_grace_s = decision_commit_grace_s
        self._clock = time.monotonic
        self._sleep = time.sleep
        # Who may decide: checked again for decisions found in the engine rather than made through PFlow.
        self._users = users
        self.separation_of_duties = separation_of_duties
        self.provisioning_retries = provisioning_retries
        # Deployed definitions never change, so their XML is cached by definition id.
        self._definition_xml_by_id = lru_cache(maxsize=16)(self._engine.process_definition_xml)

    # ------------------------------------------------------------------ queries

    def get(self, actor: User, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            return ticket

    def history(self, actor: User, ticket_id: str) -> list[HistoryEntry]:
        return list(self.get(actor, ticket_id).history)

    def list(self, actor: User, query: TicketQuery) -> Page[Ticket]:
        if not self._sees_all(actor):
            # A plain requester sees only their own tickets, whatever they ask for.
            query = TicketQuery(**{**query.__dict__, "requester": actor.username})
        with self._uow() as uow:
            return uow.tickets.list(query)

    def inbox(self, actor: User, page: int = 1, page_size: int = 20) -> Page[Ticket]:
        """Tickets awaiting this manager's decision, oldest first."""
        if not actor.is_manager:
            raise PermissionDenied("Only managers have an approvals inbox.")
        query = TicketQuery(
            status=TicketStatus.PENDING_APPROVAL.value,
            exclude_requester=actor.username if self.separation_of_duties else None,
            page=page,
            page_size=page_size,
            oldest_first=True,
        )
        with self._uow() as uow:
            return uow.tickets.list(query)

    def allowed_actions(self, actor: User, ticket: Ticket) -> list[str]:
        return ticket.allowed_actions(actor, separation_of_duties=self.separation_of_duties)

    def process(self, actor: User, ticket_id: str) -> ProcessView:
        ticket = self.get(actor, ticket_id)
        state = self._engine.process_state(ticket.id)
        xml = (self._definition_xml_by_id(state.definition_id) if state
               else self._engine.process_definition_xml(None))
        if state is None:
            return ProcessView(ticket.id, None, xml, (), ())
        return ProcessView(ticket.id, state.state, xml, state.active_activity_ids, state.completed_activity_ids,
                           state.incidents)

    # ----------------------------------------------------------------- commands

    def create(self, actor: User, data: dict[str, Any]) -> Ticket:
        ticket = Ticket.create(actor, data)
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
                )
            ticket.update(actor, data)
            uow.commit()
            return ticket

    def submit(self, actor: User, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            ticket.submit(actor)
            # Read before the commit: a failed commit may leave the ticket's attributes unreadable.
            key = ticket.id
            instance = self._engine.start_process(key, self._process_variables(ticket))
            try:
                uow.commit()
            except BaseException:
                if instance.created:
                    self._compensate_start(key)
                raise
            return ticket

    def approve(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        return self._decide(actor, ticket_id, approved=True, comment=comment)

    def reject(self, actor: User, ticket_id: str, comment: str | None) -> Ticket:
        return self._decide(actor, ticket_id, approved=False, comment=comment)

    def retry_provisioning(self, actor: User, ticket_id: str, comment: str | None = None) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            ticket.retry_provisioning(actor, comment)
            failed = [t for t in self._engine.find_external_tasks(ticket.id) if t.retries == 0]
            if not failed:
                raise ConcurrencyConflict("The workflow engine has no failed provisioning step for this ticket.")
            uow.commit()
        try:
            for task in failed:
                self._engine.set_external_task_retries(task.id, self.provisioning_retries)
        except ServiceUnavailable as exc:
            self.report_provisioning_failure(ticket_id, f"retry not started: {exc.message}")
            raise
        return self._fresh(ticket_id)

    # ---------------------------------------------- the automated side (worker)

    def prepare_provisioning(self, ticket_id: str) -> Ticket:
        """Called by the provisioning worker before it provisions. Heals a ticket whose approval commit
        was lost (the engine holds the decision). The worker is often woken by the approval itself, whose
        commit may still be under way: give that commit a moment before healing, so the two do not race
        for the same ticket."""
        ticket = self._fresh(ticket_id)
        deadline = self._clock() + self.decision_commit_grace_s
        while ticket.status == TicketStatus.PENDING_APPROVAL and self._clock() < deadline:
            self._sleep(0.02)
            ticket = self._fresh(ticket_id)
        if ticket.status != TicketStatus.APPROVED:
            ticket = self.reconcile(ticket_id)
        return ticket

    def complete_provisioning(self, ticket_id: str, reference: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            if ticket.status == TicketStatus.COMPLETED:
                return ticket  # a redelivered task: already done
            ticket.complete_provisioning(SYSTEM, reference)
            uow.commit()
            return ticket

    def report_provisioning_failure(self, ticket_id: str, error: str) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            if ticket.status != TicketStatus.APPROVED:
                return ticket  # already failed (or moved on): nothing to record
            ticket.fail_provisioning(SYSTEM, error)
            uow.commit()
            return ticket

    def reconcile(self, ticket_id: str) -> Ticket:
        """Bring a ticket in line with its process instance, so that it ends in a state that offers a
        next action (docs/reliability.md lists the cases). Safe to run at any time, by anyone, as often
        as wanted: a ticket that agrees with its instance is left as it is.

        * draft, instance running (a submission whose commit and compensation both failed):
          the instance is cancelled; the requester can submit again.
        * pending, the engine holds the decision (a decision whose commit failed): the decision is
          recorded as the decider's, if it passes the same checks as one made through the API;
          one that does not (separation of duties) is refused, audited, and the approval starts over.
        * pending, no running instance: the process is started again; managers can decide.
        * approved, the automated step has an incident (its failure was not recorded):
          ``provisioning_failed``; an admin can retry.
        * provisioning failed, the engine is provisioning again: back to ``approved``.
        * approved or failed, the instance completed: ``completed``.
        """
        ticket = self._fresh(ticket_id)
        for _ in range(6):  # each round applies one step; a lost race with another writer reads again
            try:
                changed = self._reconcile_step(ticket)
            except ConcurrencyConflict:
                changed = True
            if not changed:
                return ticket
            ticket = self._fresh(ticket_id)
        return ticket

    def _reconcile_step(self, seen: Ticket) -> bool:
        """One correction, or False when ticket and instance agree. Engine calls run outside any unit of
        work; the ticket is written only if it is still the version ``seen``."""
        if seen.status in FINAL_STATUSES:
            return False
        key = seen.id
        state = self._engine.process_state(key)
        running = state is not None and state.state in (InstanceState.ACTIVE, InstanceState.INCIDENT)
        status = seen.status
        if status == TicketStatus.DRAFT:
            if running:
                self._engine.cancel_process(key, "the ticket is a draft: its submission was not stored")
                log.warning("ticket %s: cancelled the process left running for a draft", key)
            return False
        if status == TicketStatus.PENDING_APPROVAL:
            if state is not None and APPROVAL_TASK in state.completed_activity_ids and "approved" in state.variables:
                return self._record_engine_decision(seen, state)
            if running:
                return False  # waiting for a decision
            self._engine.start_process(key, self._process_variables(seen))
            return self._write(seen, lambda t: t.note(SYSTEM, "process_restarted", {
                "recorded_from": "engine", "reason": "no_running_process"}))
        completed = state is not None and state.state == InstanceState.COMPLETED
        failed = [] if completed or not running else [
            t for t in self._engine.find_external_tasks(key) if t.retries == 0]
        if status == TicketStatus.PROVISIONING_FAILED and (completed or (running and not failed)):
            return self._write(seen, lambda t: t.resume_provisioning({"recorded_from": "engine"}))
        if status == TicketStatus.APPROVED:
            if completed:
                reference = str((state.variables or {}).get("fulfilment_reference") or "") or "recorded-in-engine"
                return self._write(seen, lambda t: t.complete_provisioning(SYSTEM, reference))
            if failed:
                error = failed[0].error_message or "the automated step failed"
                return self._write(seen, lambda t: t.fail_provisioning(SYSTEM, error))
            if not running:
                return self._write(seen, lambda t: t.fail_provisioning(SYSTEM, "the process was stopped in the engine"))
        return False

    def _record_engine_decision(self, seen: Ticket, state: ProcessState) -> bool:
        variables = state.variables
        approver_name = str(variables.get("approver") or "")
        approver = self._users.get(approver_name) if (self._users is not None and approver_name) else None
        if approver is None and self._users is None and approver_name:
            approver = User(approver_name, roles=frozenset({MANAGER}))  # no directory to check against
        problem = None
        if approver is None:
            problem = "unknown_decider"
        elif not approver.is_manager:
            problem = "not_a_decider"
        elif self.separation_of_duties and approver.username == seen.requester:
            problem = "separation_of_duties"
        if problem:
            # Not applied: the decision did not come through PFlow's checks. Start the approval over.
            self._engine.cancel_process(seen.id, f"decision by {approver_name or 'an unknown user'} refused: {problem}")
            self._engine.start_process(seen.id, self._process_variables(seen))
            log.error("ticket %s: refused the decision found in the engine (%s by %r); approval started over",
                      seen.id, problem, approver_name)
            return self._write(seen, lambda t: t.note(SYSTEM, "engine_decision_refused", {
                "recorded_from": "engine", "reason": problem, "decider": approver_name or None,
                "approved": bool(variables.get("approved"))}))
        comment = variables.get("comment") or None
        details = {"recorded_from": "engine"}

        def apply(t: Ticket) -> None:
            if variables["approved"]:
                t.approve(approver, comment, separation_of_duties=self.separation_of_duties, details=details)
            else:
                t.reject(approver, comment or "(no comment recorded)", separation_of_duties=self.separation_of_duties, details=details)

        changed = self._write(seen, apply)
        log.warning("ticket %s: recorded the decision the engine holds (%s by %s)", seen.id,
                    "approved" if variables["approved"] else "rejected", approver.username)
        return changed

    def _write(self, seen: Ticket, change: Callable[[Ticket], None]) -> bool:
        """Apply ``change`` to the stored ticket if nobody wrote it since ``seen`` (else: read again)."""
        with self._uow() as uow:
            ticket = uow.tickets.get(seen.id)
            if ticket.version != seen.version:
                return True
            change(ticket)
            uow.commit()
        return True

    @staticmethod
    def _process_variables(ticket: Ticket) -> dict[str, Any]:
        return {"ticket_id": ticket.id, "requester": ticket.requester, "title": ticket.title,
                "priority": ticket.priority.value if ticket.priority else None}

    # ---------------------------------------------------------------- internals

    def _decide(self, actor: User, ticket_id: str, *, approved: bool, comment: str | None,
                again: bool = True) -> Ticket:
        # The unit of work is closed before anything below opens another (no nested units of work:
        # each holds a database connection, and nested ones can exhaust the pool under load).
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            if approved:
                ticket.approve(actor, comment, separation_of_duties=self.separation_of_duties)
            else:
                ticket.reject(actor, comment, separation_of_duties=self.separation_of_duties)
            task = self._engine.find_user_task(ticket_id, APPROVAL_TASK)
            taken = task is not None
            if taken:
                try:
                    self._engine.complete_user_task(
                        task.id,
                        {"approved": approved, "comment": ticket.history[-1].comment or "",
                         "approver": actor.username},
                        assignee=actor.username,
                    )
                except (TaskNotFound, ConcurrencyConflict):
                    taken = False
            if taken:
                try:
                    uow.commit()
                    return ticket
                except ConcurrencyConflict as exc:
                    conflict = exc
        if not taken:
            conflict = self._already_decided(ticket_id)
            if again and conflict.details.get("reopened"):
                # The process had stopped and was started again: the decision can go through now.
                return self._decide(actor, ticket_id, approved=approved, comment=comment, again=False)
            raise conflict
        # The engine took this decision, so it may already be on the ticket before this commit: written
        # from the engine's variables (reconcile) by a loser of the race, or by the worker, which can pick
        # the provisioning task up and complete the ticket first. Either way it is this decision: success.
        fresh = self._fresh(ticket_id)
        decided = "approved" if approved else "rejected"
        if fresh.approver == actor.username and any(h.action == decided for h in fresh.history):
            return fresh
        raise conflict

    def _already_decided(self, ticket_id: str) -> ConcurrencyConflict:
        healed = self.reconcile(ticket_id)
        if healed.status == TicketStatus.PENDING_APPROVAL:
            state = self._engine.process_state(ticket_id)
            if state is None or state.state != InstanceState.ACTIVE:
                return ConcurrencyConflict("The ticket has no running approval process.")
            if self._engine.find_user_task(ticket_id, APPROVAL_TASK) is not None:
                return ConcurrencyConflict("The approval step was opened again; try again.", details={"reopened": True})
            return ConcurrencyConflict("The approval step is not open yet; try again in a moment.")
        return ConcurrencyConflict(
            f"The ticket was already {healed.status.value.replace('_', ' ')} by {healed.approver or 'someone else'}.",
            details={"status": healed.status.value, "approver": healed.approver},
        )

    def _compensate_start(self, ticket_id: str) -> None:
        try:
            self._engine.cancel_process(ticket_id, "the ticket's submission was not stored")
        except Exception:  # the original error matters more; resubmitting reuses the instance
            log.exception("could not cancel the process of ticket %s after a failed commit", ticket_id)

    def _fresh(self, ticket_id: str) -> Ticket:
        with self._uow() as uow:
            return uow.tickets.get(ticket_id)

    @staticmethod
    def _sees_all(actor: User) -> bool:
        return actor.is_manager or actor.is_admin or actor is SYSTEM

    def _require_visible(self, actor: User, ticket: Ticket) -> None:
        if not (self._sees_all(actor) or ticket.requester == actor.username):
            raise NotFound(f"Ticket {ticket.id} was not found.")
