"""Who acts on a step: claiming and giving back a group's step, an admin's reassignment, and substitutes who
decide for someone away (audited as on behalf of them, with separation of duties for both). Over the
in-memory stack, SQLite and the embedded engine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pflow.domain.errors import ConcurrencyConflict, PermissionDenied, ValidationError
from pflow.ports.repository import TaskQuery
from tests.support import TEST_USERS, build_stack

alice, erin, bob, dave, frank, fiona, carol = (
    TEST_USERS.get(n) for n in ("alice", "erin", "bob", "dave", "frank", "fiona", "carol"))

NOW = datetime.now(timezone.utc)


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def purchase(svc, amount=5000, requester=alice):
    t = svc.create(requester, {"type": "purchase_request", "title": "Chairs",
                               "fields": {"amount": amount, "supplier": "ACME"}})
    return svc.submit(requester, t.id)


def inbox(svc, user):
    return svc.tasks(user, TaskQuery(username=user.username)).items


def task_ids(svc, user):
    return [i.step.task_id for i in inbox(svc, user)]


def test_a_claimed_step_is_held_by_its_claimer_until_given_back(stack):
    svc = stack.tickets
    t = purchase(svc)
    task = t.steps[0].task_id
    assert task in task_ids(svc, bob) and task in task_ids(svc, dave)
    claimed = svc.claim(bob, task)
    assert claimed.step(task).assignee == "bob" and stack.engine.task(task).assignee == "bob"
    assert claimed.history[-1].action == "step_claimed" and claimed.history[-1].actor == "bob"
    assert svc.claim(bob, task).step(task).assignee == "bob"  # again: nothing changes
    assert task in task_ids(svc, bob) and task not in task_ids(svc, dave)
    with pytest.raises(ConcurrencyConflict) as taken:
        svc.claim(dave, task)
    assert (taken.value.key, taken.value.params) == ("task.claimed_by", {"by": "bob"})
    with pytest.raises(PermissionDenied):
        svc.complete_task(dave, task, {"manager_decision": "approve"})
    with pytest.raises(PermissionDenied) as not_yours:
        svc.unclaim(dave, task)
    assert not_yours.value.key == "task.not_yours"
    back = svc.unclaim(bob, task)
    assert back.step(task).assignee is None and back.history[-1].action == "step_unclaimed"
    assert task in task_ids(svc, dave)
    svc.claim(dave, task)
    done = svc.complete_task(dave, task, {"manager_decision": "approve"})
    assert [c.completed_by for c in stack.engine.completed_tasks(t.id)] == ["dave"]
    assert done.history[-1].action != "step_claimed"


def test_only_those_who_may_complete_a_step_may_claim_it(stack):
    svc = stack.tickets
    bobs = purchase(svc, requester=bob)
    with pytest.raises(PermissionDenied) as own:
        svc.claim(bob, bobs.steps[0].task_id)  # a manager, but the requester: separation of duties
    assert own.value.key == "step.refused.own_ticket"
    alices = purchase(svc)
    with pytest.raises(PermissionDenied) as stranger:
        svc.claim(alice, alices.steps[0].task_id)  # she sees her ticket, but the step is the managers'
    assert stranger.value.key == "task.not_claimable"
    assert stack.engine.task(alices.steps[0].task_id).assignee is None


def test_an_admin_reassigns_to_someone_who_may_complete_the_step(stack):
    svc = stack.tickets
    t = purchase(svc)
    task = t.steps[0].task_id
    svc.claim(bob, task)
    with pytest.raises(PermissionDenied) as not_admin:
        svc.reassign(dave, task, "dave")
    assert not_admin.value.key == "task.reassign_admin_only"
    with pytest.raises(ValidationError) as unknown:
        svc.reassign(carol, task, "nobody")
    assert unknown.value.details == {"assignee": ["No such user."]}
    with pytest.raises(ValidationError) as requester:
        svc.reassign(carol, task, "alice")
    assert list(requester.value.details) == ["assignee"]
    moved = svc.reassign(carol, task, "dave")
    entry = moved.history[-1]
    assert (entry.action, entry.actor, entry.details["assignee"], entry.details["previous"]) == (
        "step_reassigned", "carol", "dave", "bob")
    assert stack.engine.task(task).assignee == "dave" and task not in task_ids(svc, bob)
    assert svc.reassign(carol, task, None).step(task).assignee is None
    assert task in task_ids(svc, bob)


def test_a_substitute_sees_and_decides_the_steps_of_whom_they_stand_in_for(stack):
    svc = stack.tickets
    t = purchase(svc)
    task = t.steps[0].task_id
    assert task not in task_ids(svc, erin)
    svc.name_substitute(bob, "erin", None, NOW + timedelta(days=2))
    [item] = [i for i in inbox(svc, erin) if i.step.task_id == task]
    assert item.on_behalf_of == "bob"
    assert svc.task(erin, task).on_behalf_of == "bob"
    assert svc.get(erin, t.id).id == t.id  # she sees the ticket too
    done = svc.complete_task(erin, task, {"manager_decision": "approve"}, "fine")
    entry = next(h for h in done.history if h.action == "step_completed")
    assert (entry.actor, entry.details["on_behalf_of"]) == ("erin", "bob")
    assert set(done.deciders) >= {"erin", "bob"}
    assert [c.completed_by for c in stack.engine.completed_tasks(t.id)] == ["erin"]
    # four eyes for both: neither bob nor erin decides the finance step, should they be offered it
    finance = done.steps[0]
    assert finance.definition_key == "FinanceApproval"
    assert svc.step_refusal(erin, done, finance) == "not_a_candidate"


def test_a_substitute_decides_a_step_held_for_whom_they_stand_in_for(stack):
    svc = stack.tickets
    t = purchase(svc)
    task = t.steps[0].task_id
    svc.claim(bob, task)
    svc.name_substitute(bob, "erin", NOW - timedelta(minutes=1), NOW + timedelta(days=1))
    assert task in task_ids(svc, erin)
    svc.approve(erin, t.id, None)
    entry = next(h for h in svc.get(erin, t.id).history if h.action == "step_completed")
    assert (entry.actor, entry.details["on_behalf_of"]) == ("erin", "bob")
    assert [c.completed_by for c in stack.engine.completed_tasks(t.id)] == ["erin"]


def test_separation_of_duties_holds_for_the_substitute_and_for_whom_they_stand_in_for(stack):
    svc = stack.tickets
    alices = purchase(svc, requester=alice)
    bobs = purchase(svc, requester=bob)
    svc.name_substitute(bob, "alice", None, NOW + timedelta(days=1))
    svc.name_substitute(dave, "erin", None, NOW + timedelta(days=1))
    # alice stands in for bob, but not on her own ticket; nor on bob's (he requested it)
    assert task_ids(svc, alice) == []
    with pytest.raises(PermissionDenied) as own:
        svc.complete_task(alice, alices.steps[0].task_id, {"manager_decision": "approve"})
    assert own.value.details["reason"] == "own_ticket"
    with pytest.raises(PermissionDenied) as bobs_own:
        svc.complete_task(alice, bobs.steps[0].task_id, {"manager_decision": "approve"})
    assert bobs_own.value.details["reason"] == "own_ticket"
    # erin stands in for dave: alice's ticket yes, bob's ticket yes (dave did not request it)
    assert sorted(task_ids(svc, erin)) == sorted([alices.steps[0].task_id, bobs.steps[0].task_id])


def test_a_substitution_counts_only_within_its_period(stack):
    svc = stack.tickets
    t = purchase(svc)
    svc.name_substitute(bob, "erin", NOW + timedelta(days=1), NOW + timedelta(days=2))
    assert t.steps[0].task_id not in task_ids(svc, erin)
    assert svc.substitute(bob).substitute == "erin"
    assert svc.remove_substitute(bob) and svc.substitute(bob) is None


@pytest.mark.parametrize("substitute, starts, ends, field", [
    ("bob", None, NOW + timedelta(days=1), "substitute"),  # oneself
    ("nobody", None, NOW + timedelta(days=1), "substitute"),
    ("", None, NOW + timedelta(days=1), "substitute"),
    ("erin", NOW + timedelta(days=2), NOW + timedelta(days=1), "ends"),  # ends before it starts
    ("erin", NOW - timedelta(days=3), NOW - timedelta(days=1), "ends"),  # over already
    ("erin", None, NOW + timedelta(days=400), "ends"),
])
def test_a_substitute_is_refused_naming_the_field(memory_stack, substitute, starts, ends, field):
    with pytest.raises(ValidationError) as caught:
        memory_stack.tickets.name_substitute(bob, substitute, starts, ends)
    assert list(caught.value.details) == [field]
    assert memory_stack.tickets.substitute(bob) is None


@pytest.fixture
def memory_stack(tmp_path):
    s = build_stack("memory", tmp_path)
    yield s
    s.close()
