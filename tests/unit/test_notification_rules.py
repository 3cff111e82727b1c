"""Who is told what, and which messages the notification consumer refuses."""

from __future__ import annotations

import pytest

from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.ports.events import ReceivedMessage, RejectMessage
from pflow.service.notifications import NotificationService
from tests.support import TEST_USERS


@pytest.fixture
def service():
    store = InMemoryStore()
    return NotificationService(lambda: InMemoryUnitOfWork(store), TEST_USERS)


def event(type_="task.created", event_id="e1", actor="system", **data):
    body = {"event_id": event_id, "type": type_, "version": 2, "occurred_at": "2026-01-01T10:00:00+00:00",
            "ticket_id": "t1", "actor": actor, "data": {"title": "Laptop", "requester": "alice", **data}}
    return ReceivedMessage(type_, body, event_id)


def task(**values):
    return {"id": "k1", "step": "FinanceApproval", "name": "Finance Approval", "candidate_groups": [],
            "candidate_users": [], "assignee": None, **values}


def recipients(service, *names):
    return {n: service.list(TEST_USERS.get(n)).total for n in names}


def test_a_new_step_tells_the_members_of_its_groups_but_not_the_requester(service):
    assert service.handle(event(task=task(candidate_groups=["managers", "finance"]), requester="frank")) == 3
    assert recipients(service, "bob", "dave", "fiona", "frank", "sam") == {
        "bob": 1, "dave": 1, "fiona": 1, "frank": 0, "sam": 0}
    (note,) = service.list(TEST_USERS.get("fiona")).items
    assert note.params == {"title": "Laptop", "step": "Finance Approval", "requester": "frank"}
    assert note.message == 'Finance Approval of ticket "Laptop" from frank awaits you.'


def test_a_new_step_for_named_users_or_an_assignee_tells_only_them(service):
    service.handle(event(task=task(candidate_users=["pat"], candidate_groups=["managers"])))
    assert recipients(service, "pat", "bob") == {"pat": 1, "bob": 1}
    service.handle(event(event_id="e2", task=task(assignee="sam", candidate_groups=["managers"])))
    assert recipients(service, "sam", "bob") == {"sam": 1, "bob": 1}  # bob only from the first event


@pytest.mark.parametrize("type_, data, says", [
    ("task.completed", {"task": task(), "comment": "ok"}, 'bob completed Finance Approval of your ticket "Laptop". '
                                                          "Comment: ok"),
    ("ticket.completed", {}, 'Your ticket "Laptop" is done.'),
    ("ticket.completed", {"reference": "PRV-1A"}, 'Your ticket "Laptop" is done (fulfilment reference PRV-1A).'),
    ("ticket.rejected", {}, 'Your ticket "Laptop" was rejected.'),
    ("ticket.withdrawn", {}, 'Ticket "Laptop" was withdrawn.'),
])
def test_progress_and_outcomes_go_to_the_requester(service, type_, data, says):
    assert service.handle(event(type_, actor="bob", **data)) == 1
    (note,) = service.list(TEST_USERS.get("alice")).items
    assert note.kind == type_ and note.message == says
    assert note.created_at.isoformat() == "2026-01-01T10:00:00+00:00"


def test_the_requester_is_not_told_what_they_did_themselves(service):
    assert service.handle(event("ticket.withdrawn", actor="alice")) == 0


def test_a_ticket_that_needs_attention_tells_the_admins_and_the_requester(service):
    assert service.handle(event("ticket.needs_attention", error="quota")) == 2
    assert recipients(service, "carol", "alice", "bob") == {"carol": 1, "alice": 1, "bob": 0}
    assert "needs attention: quota" in service.list(TEST_USERS.get("carol")).items[0].message


def test_only_the_admins_are_told_the_error_of_the_failed_step(service):
    assert service.handle(event("ticket.needs_attention", error="ProvisioningError: quota on host-7",
                                step="Provision", step_name="Provision access")) == 2
    (admin,) = service.list(TEST_USERS.get("carol")).items
    assert admin.params["error"] == "ProvisioningError: quota on host-7"
    assert admin.params["step"] == "Provision access"
    assert admin.message == ('Ticket "Laptop" needs attention: ProvisioningError: quota on host-7 (Provision access). '
                             'Retry it from the incidents page.')
    (requester,) = service.list(TEST_USERS.get("alice")).items
    assert "error" not in requester.params and "step" not in requester.params
    assert "ProvisioningError" not in requester.message and "host-7" not in requester.message
    assert requester.message == 'Ticket "Laptop" needs attention. An admin has been told and can retry it.'


def test_events_nobody_is_told_about_are_still_recorded(service):
    assert service.handle(event("ticket.created")) == 0
    assert service.handle(event("ticket.submitted", event_id="e2")) == 0
    assert service.handle(event("ticket.some_future_event", event_id="e3")) == 0


def test_a_duplicate_event_changes_nothing(service):
    assert service.handle(event("ticket.completed")) == 1
    assert service.handle(event("ticket.completed")) == 0
    assert service.list(TEST_USERS.get("alice")).total == 1


@pytest.mark.parametrize("body", [
    {"type": "ticket.completed"},
    {"event_id": "x", "type": "ticket.completed", "ticket_id": "t", "occurred_at": "2026-01-01T00:00:00+00:00",
     "version": 1},
    {"event_id": "x", "type": "ticket.completed", "ticket_id": "t", "occurred_at": "yesterday", "version": 2,
     "data": {}},
])
def test_malformed_events_are_rejected(service, body):
    with pytest.raises(RejectMessage):
        service.handle(ReceivedMessage("ticket.completed", body, "x"))
