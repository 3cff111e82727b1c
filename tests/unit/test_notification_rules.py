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


def event(type_="ticket.submitted", event_id="e1", **data):
    body = {"event_id": event_id, "type": type_, "version": 1, "occurred_at": "2026-01-01T10:00:00+00:00",
            "ticket_id": "t1", "actor": "alice", "data": {"title": "Laptop", "requester": "alice", **data}}
    return ReceivedMessage(type_, body, event_id)


def user(name):
    return TEST_USERS.get(name)


def test_a_submission_tells_every_manager_but_the_requester(service):
    assert service.handle(event(requester="bob")) == 1  # bob asked, so only dave (the other manager) is told
    assert [n.recipient for n in service.list(user("dave")).items] == ["dave"]
    assert service.list(user("bob")).total == 0


@pytest.mark.parametrize("type_", ["ticket.approved", "ticket.rejected", "ticket.completed",
                                   "ticket.provisioning_failed"])
def test_outcomes_go_to_the_requester(service, type_):
    assert service.handle(event(type_, approver="bob", comment="why", fulfilment_reference="R1", error="boom")) == 1
    (note,) = service.list(user("alice")).items
    assert note.kind == type_ and '"Laptop"' in note.message
    assert note.created_at.isoformat() == "2026-01-01T10:00:00+00:00"


@pytest.mark.parametrize("type_, data, params, says", [
    ("ticket.submitted", {"amount": "1200.00", "requester": "carol"},
     {"title": "Laptop", "amount": "1200.00", "actor": "carol"}, 'Ticket "Laptop" for 1200.00 from carol'),
    ("ticket.approved", {"approver": "bob"}, {"title": "Laptop", "actor": "bob"}, "approved by bob."),
    ("ticket.rejected", {"approver": "bob", "comment": "over budget"},
     {"title": "Laptop", "actor": "bob", "comment": "over budget"}, "rejected by bob: over budget"),
    ("ticket.completed", {"fulfilment_reference": "PRV-1"}, {"title": "Laptop", "reference": "PRV-1"},
     "(fulfilment reference PRV-1)"),
    ("ticket.provisioning_failed", {"error": "quota"}, {"title": "Laptop", "error": "quota"}, "failed: quota"),
])
def test_a_notification_keeps_the_values_its_message_is_made_from(service, type_, data, params, says):
    """So the UI can word it in the reader's language (the stores keep them: tests/contract)."""
    reader = "dave" if type_ == "ticket.submitted" else "alice"
    assert service.handle(event(type_, **data)) >= 1
    (note,) = service.list(user(reader)).items
    assert note.params == params
    assert says in note.message


def test_events_nobody_is_told_about_are_still_recorded(service):
    assert service.handle(event("ticket.created")) == 0
    assert service.handle(event("ticket.provisioning_retried", event_id="e2")) == 0
    assert service.handle(event("ticket.some_future_event", event_id="e3")) == 0


def test_a_duplicate_event_changes_nothing(service):
    assert service.handle(event("ticket.approved")) == 1
    assert service.handle(event("ticket.approved")) == 0
    assert service.list(user("alice")).total == 1


@pytest.mark.parametrize("body", [
    {"type": "ticket.approved"},
    {"event_id": "x", "type": "ticket.approved", "ticket_id": "t", "occurred_at": "2026-01-01T00:00:00+00:00",
     "version": 2},
    {"event_id": "x", "type": "ticket.approved", "ticket_id": "t", "occurred_at": "yesterday", "data": {}},
])
def test_malformed_events_are_rejected(service, body):
    with pytest.raises(RejectMessage):
        service.handle(ReceivedMessage("ticket.approved", body, "x"))
