"""The ticket aggregate: drafts, the status it reads from its process, steps and who may complete them."""

from __future__ import annotations

import pytest

from pflow.domain.errors import InvalidTransition, PermissionDenied, ValidationError
from pflow.domain.model import Progress, Ticket, TicketStatus
from pflow.domain.steps import FormField, Refusal, Step
from pflow.domain.users import User

alice = User("alice", roles=frozenset({"requester"}))
erin = User("erin", roles=frozenset({"requester"}))
bob = User("bob", groups=frozenset({"managers"}))
frank = User("frank", groups=frozenset({"managers", "finance"}))
carol = User("carol", roles=frozenset({"admin"}))

DECISION = FormField(id="approved", label="Approve?", type="boolean", required=True)
MANAGER_STEP = Step(task_id="t1", definition_key="ManagerApproval", name="Manager Approval",
                    candidate_groups=("managers",), form=(DECISION,))
FINANCE_STEP = Step(task_id="t2", definition_key="FinanceApproval", name="Finance Approval",
                    candidate_groups=("finance",), form=(FormField(
                        id="finance_decision", label="Decision", type="enum",
                        values=(("approve", "Approve"), ("reject", "Reject"))),))


def draft(**fields) -> Ticket:
    return Ticket.create(alice, "it_request", "Laptop", fields or {"priority": "normal"})


def submitted() -> Ticket:
    t = draft()
    t.submit(alice)
    t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    return t


def test_a_new_ticket_is_a_draft_its_requester_last_edited():
    t = draft()
    assert (t.status, t.requester, t.last_editor, t.type) == (TicketStatus.DRAFT, "alice", "alice", "it_request")
    assert [e.type for e in t.events] == ["ticket.created"]


def test_a_title_is_required_and_bounded():
    with pytest.raises(ValidationError) as caught:
        Ticket.create(alice, "it_request", "  ", {})
    assert caught.value.details == {"title": ["Must not be empty."]}
    with pytest.raises(ValidationError):
        Ticket.create(alice, "it_request", "x" * 201, {})


def test_an_admin_edit_makes_the_admin_the_last_editor():
    t = draft()
    assert t.update(carol, fields={"priority": "high"}) == ["priority"]
    assert t.last_editor == "carol" and t.fields["priority"] == "high"
    assert t.history[-1].details == {"changed": ["priority"]}


def test_only_the_requester_or_an_admin_edits_and_only_a_draft():
    t = draft()
    with pytest.raises(PermissionDenied):
        t.update(erin, title="Mine now")
    t.submit(alice)
    with pytest.raises(InvalidTransition):
        t.update(alice, title="Changed")


def test_the_status_follows_the_process():
    t = submitted()
    assert (t.status, t.current_steps, [s.task_id for s in t.steps]) == (
        TicketStatus.IN_PROGRESS, ["Manager Approval"], ["t1"])
    assert t.follow(Progress(running=True, automated=("Provision Service",)))
    assert (t.status, t.current_steps, t.steps) == (TicketStatus.IN_PROGRESS, ["Provision Service"], [])
    t.follow(Progress(running=True, automated=("Provision Service",), incident="backend down"))
    assert (t.status, t.attention) == (TicketStatus.NEEDS_ATTENTION, "backend down")
    t.follow(Progress(running=True, automated=("Provision Service",)))
    assert (t.status, t.attention) == (TicketStatus.IN_PROGRESS, None)
    t.follow(Progress(running=False, outcome="completed"))
    assert (t.status, t.current_steps) == (TicketStatus.COMPLETED, [])
    assert [h.action for h in t.history][-3:] == ["needs_attention", "resumed", "completed"]


@pytest.mark.parametrize("progress, status, attention", [
    (Progress(running=False, outcome="rejected"), TicketStatus.REJECTED, None),
    (Progress(running=False, outcome="withdrawn"), TicketStatus.WITHDRAWN, None),
    (Progress(running=False, outcome="something-else"), TicketStatus.COMPLETED, None),
    (Progress(running=False, stopped=True), TicketStatus.NEEDS_ATTENTION, "process_stopped"),
    (Progress(running=False), TicketStatus.NEEDS_ATTENTION, "process_missing"),
])
def test_how_a_process_ends_decides_the_final_status(progress, status, attention):
    t = submitted()
    t.follow(progress)
    assert (t.status, t.attention) == (status, attention)


def test_following_an_unchanged_process_changes_nothing_and_a_final_ticket_stays_final():
    t = submitted()
    t.events.clear()
    assert not t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    assert t.events == []
    t.follow(Progress(running=False, outcome="completed"))
    assert not t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    assert t.status == TicketStatus.COMPLETED


def test_a_new_step_is_announced_once_with_who_may_act():
    t = draft()
    t.submit(alice)
    t.events.clear()
    t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    (created,) = [e for e in t.events if e.type == "task.created"]
    assert created.data["task"]["candidate_groups"] == ["managers"] and created.data["task"]["name"] == "Manager Approval"


def test_who_may_complete_a_step():
    t = submitted()
    assert t.refusal(bob, MANAGER_STEP) is None
    assert t.refusal(erin, MANAGER_STEP) == Refusal.NOT_A_CANDIDATE
    own = Ticket.create(bob, "it_request", "Mine", {})
    assert own.refusal(bob, MANAGER_STEP) == Refusal.OWN_TICKET
    assert own.refusal(bob, MANAGER_STEP, separation_of_duties=False) is None


def test_the_last_editor_counts_as_a_requester():
    t = draft()
    t.update(User("carol", roles=frozenset({"admin"}), groups=frozenset({"managers"})), fields={"priority": "high"})
    assert t.refusal(User("carol", groups=frozenset({"managers"})), MANAGER_STEP) == Refusal.LAST_EDITOR


def test_every_editor_counts_as_a_requester_not_only_the_last():
    """Two admins edit alice's draft in turn: each of them is refused its decisions, the first one too."""
    max_ = User("max", roles=frozenset({"admin"}), groups=frozenset({"managers"}))
    nina = User("nina", roles=frozenset({"admin"}), groups=frozenset({"managers"}))
    t = draft()
    t.update(max_, fields={"priority": "high"})
    t.update(nina, fields={"priority": "low"})
    t.update(alice, title="Laptop for Alice")
    t.update(max_, title="Laptop for Alice!")  # once on the list is enough
    assert t.editors == ["max", "nina"] and t.last_editor == "max"
    t.submit(alice)
    t.follow(Progress(running=True, steps=(MANAGER_STEP,)))
    assert t.refusal(max_, MANAGER_STEP) == Refusal.LAST_EDITOR
    assert t.refusal(nina, MANAGER_STEP) == Refusal.LAST_EDITOR
    assert t.refusal(bob, MANAGER_STEP) is None
    assert t.refusal(nina, MANAGER_STEP, separation_of_duties=False) is None


def test_the_requesters_own_edits_do_not_make_them_an_editor():
    t = draft()
    t.update(alice, fields={"priority": "high"})
    assert t.editors == []


def test_nobody_decides_two_steps_of_one_ticket_unless_the_process_allows_it():
    t = submitted()
    t.record_step(frank, MANAGER_STEP, {"approved": True}, None)
    assert t.deciders == ["frank"]
    assert t.refusal(frank, FINANCE_STEP) == Refusal.SECOND_DECISION
    assert t.refusal(frank, FINANCE_STEP, four_eyes=False) is None
    info = Step(task_id="t3", definition_key="Note", name="Note", candidate_groups=("finance",))
    assert t.refusal(frank, info) is None  # not a decision


def test_an_assigned_step_is_only_for_its_assignee_and_may_be_the_requesters_own():
    step = Step(task_id="t", definition_key="Confirm", name="Confirm", candidate_groups=("managers",), assignee="alice")
    assert step.is_candidate(alice) and not step.is_candidate(bob)
    assert draft().refusal(alice, step) is None  # it decides nothing: separation of duties guards decisions
    deciding = Step(task_id="t", definition_key="Confirm", name="Confirm", assignee="alice", form=(DECISION,))
    assert draft().refusal(alice, deciding) == Refusal.OWN_TICKET


def test_a_completed_step_is_recorded_with_its_values_and_comment():
    t = submitted()
    t.events.clear()
    t.record_step(bob, MANAGER_STEP, {"approved": False}, "Too dear")
    entry = t.history[-1]
    assert (entry.action, entry.actor, entry.comment) == ("step_completed", "bob", "Too dear")
    assert entry.details == {"step": "ManagerApproval", "step_name": "Manager Approval", "task_id": "t1",
                             "values": {"approved": False}}
    assert [e.type for e in t.events] == ["task.completed"]


def test_withdraw_delete_resubmit_and_retry_rules():
    t = submitted()
    with pytest.raises(PermissionDenied):
        t.withdraw(erin)
    t.withdraw(alice, "Not needed")
    assert (t.status, t.steps, t.history[-1].comment) == (TicketStatus.WITHDRAWN, [], "Not needed")
    with pytest.raises(InvalidTransition):
        t.withdraw(alice)
    t.ensure_resubmittable(alice)
    assert t.allowed_actions(alice) == ["resubmit"]
    with pytest.raises(InvalidTransition):
        t.ensure_deletable(alice)
    d = draft()
    d.ensure_deletable(carol)
    assert d.allowed_actions(alice) == ["edit", "submit", "delete"]
    failing = submitted()
    failing.follow(Progress(running=True, automated=("Provision Service",), incident="down"))
    assert failing.allowed_actions(carol) == ["withdraw", "retry"]
    with pytest.raises(PermissionDenied):
        failing.ensure_retryable(bob)


# --- acting as a substitute ------------------------------------------------------------------------

def _decision(task_id="t1", groups=("managers",), assignee=None) -> Step:
    return Step(task_id=task_id, definition_key="ManagerApproval", name="Manager Approval", candidate_groups=groups,
                assignee=assignee, form=(FormField("approved", "Approve?", "boolean", required=True),))


def test_a_substitute_acts_on_steps_offered_to_whom_they_stand_in_for_under_both_their_duties():
    ticket = Ticket.create(alice, "it_request", "Laptop", {})
    step = _decision()
    assert ticket.refusal(erin, step) == Refusal.NOT_A_CANDIDATE
    assert ticket.refusal(erin, step, acting_for=bob) is None
    assert ticket.refusal(erin, _decision(assignee="frank"), acting_for=bob) == Refusal.NOT_A_CANDIDATE
    assert ticket.refusal(alice, step, acting_for=bob) == Refusal.OWN_TICKET  # the substitute's own ticket
    bobs = Ticket.create(bob, "it_request", "Laptop", {})
    assert bobs.refusal(erin, step, acting_for=bob) == Refusal.OWN_TICKET  # the absent user's own ticket
    ticket.record_step(erin, step, {"approved": True}, None, on_behalf_of="bob")
    assert ticket.deciders == ["erin", "bob"] and ticket.history[-1].details["on_behalf_of"] == "bob"
    second = _decision("t2")
    assert ticket.refusal(bob, second) == Refusal.SECOND_DECISION  # four eyes: bob decided through erin
    assert ticket.refusal(erin, second, acting_for=frank) == Refusal.SECOND_DECISION
    assert ticket.refusal(erin, second, acting_for=frank, four_eyes=False) is None
