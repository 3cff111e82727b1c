"""Steps: the open user tasks of a ticket's process, as the ticket knows them, and the rules for who
may complete one. The process decides which steps exist and who is a candidate; these rules hold
for every process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pflow.domain.users import User


@dataclass(frozen=True)
class FormField:
    """A field of a step's form, as Camunda Modeler writes it (``camunda:formField``)."""

    id: str
    label: str
    type: str  # string | long | boolean | date | enum
    required: bool = False
    default: Any = None
    values: tuple[tuple[str, str], ...] = ()  # enum: (id, name)

    @property
    def is_decision(self) -> bool:
        """A boolean, or an enum offering ``approve`` and ``reject``: what approve/reject set."""
        ids = {v for v, _ in self.values}
        return self.type == "boolean" or (self.type == "enum" and {"approve", "reject"} <= ids)

    def decision_value(self, approve: bool) -> Any:
        if self.type == "boolean":
            return approve
        return "approve" if approve else "reject"


@dataclass(frozen=True)
class Step:
    """An open user task of the ticket's process."""

    task_id: str
    definition_key: str  # the task's id in the BPMN
    name: str
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    assignee: str | None = None
    due: datetime | None = None
    created_at: datetime | None = None
    form: tuple[FormField, ...] = ()
    # Four eyes across levels: whoever decided another step of the ticket may not decide this one. A process
    # (or this task) opts out with the property pflow.fourEyes=false.
    four_eyes: bool = True

    @property
    def decision_field(self) -> FormField | None:
        return next((f for f in self.form if f.is_decision), None)

    @property
    def is_decision(self) -> bool:
        return self.decision_field is not None

    def is_candidate(self, user: User) -> bool:
        """Camunda's rule: the assignee, else a candidate user, else a member of a candidate group."""
        if self.assignee:
            return self.assignee == user.username
        return user.username in self.candidate_users or any(user.in_group(g) for g in self.candidate_groups)


class Refusal:
    """Why a user may not complete a step (codes the UI words per language)."""

    NOT_A_CANDIDATE = "not_a_candidate"
    OWN_TICKET = "own_ticket"  # separation of duties: the requester
    LAST_EDITOR = "last_editor"  # separation of duties: whoever (besides the requester) changed the ticket's fields
    SECOND_DECISION = "second_decision"  # four eyes across levels


def refusal(user: User, step: Step, *, requester: str, last_editor: str | None, deciders: tuple[str, ...],
            separation_of_duties: bool = True, four_eyes: bool = True, editors: tuple[str, ...] = (),
            acting_for: User | None = None) -> str | None:
    """None when ``user`` may complete ``step``, else a ``Refusal`` code. ``acting_for``: ``user`` acts as that
    person's substitute; then the step must be offered to them, and separation of duties and four eyes hold
    for both: neither may decide a ticket they requested, edited or decided an earlier step of."""
    if not step.is_candidate(acting_for or user):
        return Refusal.NOT_A_CANDIDATE
    for who in ((acting_for, user) if acting_for is not None else (user,)):
        # Separation of duties guards decisions: a step that decides nothing (confirm receipt, add details) may be
        # the requester's own, as when the process assigns it to ${requester}.
        if separation_of_duties and step.is_decision:
            if who.username == requester:
                return Refusal.OWN_TICKET
            # every editor counts, not only the last: two admins editing a draft in turn are both refused
            if (last_editor and who.username == last_editor) or who.username in editors:
                return Refusal.LAST_EDITOR
        if four_eyes and step.is_decision and who.username in deciders:
            return Refusal.SECOND_DECISION
    return None
