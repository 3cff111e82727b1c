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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from pflow.domain.errors import (
    ConcurrencyConflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)
from pflow.domain.model import HistoryEntry, Ticket, TicketStatus
from pflow.domain.users import MANAGER, SYSTEM, User
from pflow.ports.repository import Page, TicketQuery, UnitOfWork
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
    ) -> None:
        self._uow = uow_factory
        self._engine = engine
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
            instance = self._engine.start_process(
                ticket.id,
                {"ticket_id": ticket.id, "requester": ticket.requester, "title": ticket.title,
                 "priority": ticket.priority.value},
            )
            try:
                uow.commit()
            except Exception:
                if instance.created:
                    self._compensate_start(ticket.id)
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
        """Called by the provisioning worker before it provisions. Heals a ticket
        whose approval commit was lost (the engine holds the decision)."""
        ticket = self._fresh(ticket_id)
        if ticket.status == TicketStatus.PENDING_APPROVAL:
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
        """Bring a pending ticket in line with a decision the engine already holds."""
        state = self._engine.process_state(ticket_id)
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            if ticket.status != TicketStatus.PENDING_APPROVAL or state is None:
                return ticket
            decided = APPROVAL_TASK in state.completed_activity_ids and "approved" in state.variables
            if not decided:
                return ticket
            approver = User(str(state.variables.get("approver") or "unknown"), roles=frozenset({MANAGER}))
            comment = state.variables.get("comment") or None
            if state.variables["approved"]:
                ticket.approve(approver, comment, separation_of_duties=False)
            else:
                ticket.reject(approver, comment or "(no comment recorded)", separation_of_duties=False)
            ticket.history[-1].comment = ((ticket.history[-1].comment or "") + " [reconciled from the engine]").strip()
            uow.commit()
            log.warning("ticket %s reconciled from the engine: %s by %s", ticket_id, ticket.status, approver.username)
            return ticket

    # ---------------------------------------------------------------- internals

    def _decide(self, actor: User, ticket_id: str, *, approved: bool, comment: str | None) -> Ticket:
        with self._uow() as uow:
            ticket = uow.tickets.get(ticket_id)
            self._require_visible(actor, ticket)
            if approved:
                ticket.approve(actor, comment, separation_of_duties=self.separation_of_duties)
            else:
                ticket.reject(actor, comment, separation_of_duties=self.separation_of_duties)
            task = self._engine.find_user_task(ticket.id, APPROVAL_TASK)
            if task is None:
                raise self._already_decided(ticket_id)
            try:
                self._engine.complete_user_task(
                    task.id,
                    {"approved": approved, "comment": ticket.history[-1].comment or "", "approver": actor.username},
                    assignee=actor.username,
                )
            except (TaskNotFound, ConcurrencyConflict):
                raise self._already_decided(ticket_id) from None
            try:
                uow.commit()
            except ConcurrencyConflict:
                # The engine took this decision, so it may already be on the ticket before this commit: written
                # from the engine's variables (reconcile) by a loser of the race, or by the worker, which can pick
                # the provisioning task up and complete the ticket first. Either way it is this decision: success.
                fresh = self._fresh(ticket_id)
                decided = "approved" if approved else "rejected"
                if fresh.approver == actor.username and any(h.action == decided for h in fresh.history):
                    return fresh
                raise
            return ticket

    def _already_decided(self, ticket_id: str) -> ConcurrencyConflict:
        healed = self.reconcile(ticket_id)
        if healed.status == TicketStatus.PENDING_APPROVAL:
            state = self._engine.process_state(ticket_id)
            if state is None or state.state != InstanceState.ACTIVE:
                return ConcurrencyConflict("The ticket has no running approval process.")
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
