"""Who is told what, and which messages the notification consumer refuses.

The events are the ones the ticket itself records (``Ticket.events``), of tickets kept in the store the consumer
reads; a message that does not fit the contract, or names no ticket the store knows, or does not fit the ticket it
names, is refused (``RejectMessage``: dropped, counted, nobody told)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest

from pflow.adapters.memory.events import InMemoryEventConsumer, InMemoryEventPublisher
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.domain.model import Progress, Ticket
from pflow.domain.steps import FormField, Step
from pflow.domain.users import User
from pflow.runtime.consumer import NotificationConsumer
from pflow.ports.events import ReceivedMessage, RejectMessage
from pflow.service.notifications import NotificationService
from tests.support import TEST_USERS

DECISION = FormField(id="approved", label="Approve?", type="boolean", required=True)


@pytest.fixture
def store():
    return InMemoryStore()


@pytest.fixture
def service(store):
    return NotificationService(lambda: InMemoryUnitOfWork(store), TEST_USERS)


def step(task_id="k1", **values):
    return Step(**{"task_id": task_id, "definition_key": "FinanceApproval", "name": "Finance Approval",
                   "form": (DECISION,), **values})


def stored(store, requester="alice", title="Laptop", *, steps=(step(),)) -> Ticket:
    """A submitted ticket with these open steps, kept in the store."""
    ticket = Ticket.create(TEST_USERS.get(requester) or User(requester), "it_request", title, {})
    ticket.submit(ticket_requester(ticket))
    ticket.follow(Progress(running=True, steps=tuple(steps)))
    recorded = list(ticket.events)  # the commit hands them to the outbox
    with InMemoryUnitOfWork(store) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    ticket.recorded = recorded
    return ticket


def ticket_requester(ticket):
    return TEST_USERS.get(ticket.requester) or User(ticket.requester)


def change(store, ticket_id, action):
    """Do ``action(ticket)`` on the stored ticket; returns the events it recorded."""
    with InMemoryUnitOfWork(store) as uow:
        ticket = uow.tickets.get(ticket_id)
        before = len(ticket.events)
        action(ticket)
        events = list(ticket.events[before:])
        uow.commit()
    return events


def received(event) -> ReceivedMessage:
    body = event.to_message()
    return ReceivedMessage(body["type"], body, body["event_id"])


def last(ticket, type_):
    return received(next(e for e in reversed(ticket.recorded) if e.type == type_))


def recipients(service, *names):
    return {n: service.list(TEST_USERS.get(n)).total for n in names}


bob, carol = TEST_USERS.get("bob"), TEST_USERS.get("carol")


def test_a_new_step_tells_the_members_of_its_groups_but_not_the_requester(store, service):
    ticket = stored(store, "frank", steps=[step(candidate_groups=("managers", "finance"))])
    assert service.handle(last(ticket, "task.created")) == 3
    assert recipients(service, "bob", "dave", "fiona", "frank", "sam") == {
        "bob": 1, "dave": 1, "fiona": 1, "frank": 0, "sam": 0}
    (note,) = service.list(TEST_USERS.get("fiona")).items
    assert note.params == {"title": "Laptop", "step": "Finance Approval", "requester": "frank"}
    assert note.message == 'Finance Approval of ticket "Laptop" from frank awaits you.'


def test_a_new_step_for_named_users_or_an_assignee_tells_only_them(store, service):
    one = stored(store, steps=[step(candidate_users=("pat",), candidate_groups=("managers",))])
    service.handle(last(one, "task.created"))
    assert recipients(service, "pat", "bob") == {"pat": 1, "bob": 1}
    two = stored(store, steps=[step("k2", assignee="sam", candidate_groups=("managers",))])
    service.handle(last(two, "task.created"))
    assert recipients(service, "sam", "bob") == {"sam": 1, "bob": 1}  # bob only from the first event


def test_a_step_gone_before_its_opening_was_handled_awaits_nobody(store, service):
    """Withdrawn before the consumer came to the step's opening: a real event, which tells nobody now."""
    ticket = stored(store, steps=[step(candidate_groups=("managers",))])
    opened = last(ticket, "task.created")
    change(store, ticket.id, lambda t: t.withdraw(TEST_USERS.get("alice")))
    assert service.handle(opened) == 0 and service.rejected == 0
    assert recipients(service, "bob", "dave") == {"bob": 0, "dave": 0}


def test_a_step_completed_before_its_opening_was_handled_awaits_nobody(store, service):
    ticket = stored(store, steps=[step(candidate_groups=("managers",))])
    opened = last(ticket, "task.created")
    change(store, ticket.id, lambda t: (t.record_step(bob, t.steps[0], {"approved": True}, None),
                                        t.follow(Progress(running=True))))
    assert service.handle(opened) == 0
    assert recipients(service, "bob", "dave") == {"bob": 0, "dave": 0}


def _completed(store, ticket, comment="ok"):
    (done,) = [e for e in change(store, ticket.id, lambda t: t.record_step(bob, t.steps[0], {"approved": True},
                                                                           comment)) if e.type == "task.completed"]
    return received(done)


def _ended(store, ticket, outcome):
    events = change(store, ticket.id, lambda t: t.follow(Progress(running=False, outcome=outcome)))
    return received(events[-1])


def test_progress_and_outcomes_go_to_the_requester(store, service):
    ticket = stored(store, steps=[step(candidate_groups=("managers",))])
    assert service.handle(_completed(store, ticket)) == 1
    (note,) = service.list(TEST_USERS.get("alice")).items
    assert (note.kind, note.message) == (
        "task.completed", 'bob completed Finance Approval of your ticket "Laptop". Comment: ok')
    done = _ended(store, ticket, "completed")
    assert service.handle(done) == 1
    assert service.list(TEST_USERS.get("alice")).items[0].message == 'Your ticket "Laptop" is done.'
    assert service.list(TEST_USERS.get("alice")).items[0].created_at.isoformat() == done.body["occurred_at"]


def test_the_fulfilment_reference_comes_from_the_ticket(store, service):
    ticket = stored(store)
    change(store, ticket.id, lambda t: t.record_results("x1", "Provision", None, {"fulfilment_reference": "PRV-1A"}))
    assert service.handle(_ended(store, ticket, "completed")) == 1
    (note,) = service.list(TEST_USERS.get("alice")).items
    assert note.message == 'Your ticket "Laptop" is done (fulfilment reference PRV-1A).'


@pytest.mark.parametrize("outcome, says", [("rejected", 'Your ticket "Laptop" was rejected.'),
                                           ("withdrawn", 'Ticket "Laptop" was withdrawn.')])
def test_the_end_of_a_ticket_goes_to_the_requester(store, service, outcome, says):
    ticket = stored(store)
    assert service.handle(_ended(store, ticket, outcome)) == 1
    (note,) = service.list(TEST_USERS.get("alice")).items
    assert (note.kind, note.message) == (f"ticket.{outcome}", says)


def test_a_withdrawal_by_an_admin_tells_the_requester_with_the_admins_comment(store, service):
    ticket = stored(store)
    (withdrawn,) = change(store, ticket.id, lambda t: t.withdraw(carol, "duplicate of another ticket"))
    message = received(withdrawn)
    message.body["data"]["comment"] = PHISHING  # what the ticket's history says is told, not the message
    assert service.handle(message) == 1
    (note,) = service.list(TEST_USERS.get("alice")).items
    assert note.params == {"title": "Laptop", "actor": "carol", "comment": "duplicate of another ticket",
                           "requester": "alice"}


def test_the_requester_is_not_told_what_they_did_themselves(store, service):
    ticket = stored(store)
    (withdrawn,) = change(store, ticket.id, lambda t: t.withdraw(TEST_USERS.get("alice")))
    assert service.handle(received(withdrawn)) == 0


def _failed(store, ticket, error, **step):
    events = change(store, ticket.id, lambda t: t.follow(Progress(running=True, incident=error, **step)))
    return received(events[-1])


def test_a_ticket_that_needs_attention_tells_the_admins_and_the_requester(store, service):
    ticket = stored(store)
    assert service.handle(_failed(store, ticket, "quota")) == 2
    assert recipients(service, "carol", "alice", "bob") == {"carol": 1, "alice": 1, "bob": 0}
    assert "needs attention: quota" in service.list(carol).items[0].message


def test_only_the_admins_are_told_the_error_of_the_failed_step(store, service):
    ticket = stored(store)
    assert service.handle(_failed(store, ticket, "ProvisioningError: quota on host-7", incident_step="Provision",
                                  incident_step_name="Provision access")) == 2
    (admin,) = service.list(carol).items
    assert admin.params["error"] == "ProvisioningError: quota on host-7"
    assert admin.params["step"] == "Provision access"
    assert admin.message == ('Ticket "Laptop" needs attention: ProvisioningError: quota on host-7 (Provision access). '
                             'Retry it from the incidents page.')
    (requester,) = service.list(TEST_USERS.get("alice")).items
    assert "error" not in requester.params and "step" not in requester.params
    assert "ProvisioningError" not in requester.message and "host-7" not in requester.message
    assert requester.message == 'Ticket "Laptop" needs attention. An admin has been told and can retry it.'


def test_events_nobody_is_told_about_are_still_recorded(store, service):
    ticket = stored(store)
    assert service.handle(last(ticket, "ticket.created")) == 0
    assert service.handle(last(ticket, "ticket.submitted")) == 0
    assert service.rejected == 0


def test_a_duplicate_event_changes_nothing(store, service):
    ticket = stored(store)
    done = _ended(store, ticket, "completed")
    assert service.handle(done) == 1
    assert service.handle(done) == 0
    assert service.list(TEST_USERS.get("alice")).total == 1


# --- forged and malformed messages ----------------------------------------------------------------------------------

PHISHING = "Your account is locked: sign in again at https://pflow-login.example.net within 24 hours."


def forged(type_="ticket.completed", ticket_id=None, actor="system", **data):
    body = {"event_id": str(uuid.uuid4()), "type": type_, "version": 2,
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "ticket_id": ticket_id or str(uuid.uuid4()), "actor": actor,
            "data": {"title": PHISHING, "requester": "alice", "status": "completed", **data}}
    return ReceivedMessage(type_, body, body["event_id"])


def nobody_told(service):
    return all(service.list(u).total == 0 for u in TEST_USERS.list_users())


@pytest.mark.parametrize("type_, data", [
    ("ticket.completed", {"reference": PHISHING}),
    ("ticket.needs_attention", {"error": PHISHING}),
    ("task.created", {"task": {"id": "k1", "name": PHISHING, "candidate_groups": ["managers"]}}),
])
def test_a_forged_event_for_a_ticket_that_does_not_exist_tells_nobody(service, type_, data):
    with pytest.raises(RejectMessage, match="names no known ticket"):
        service.handle(forged(type_, **data))
    assert nobody_told(service) and service.rejected == 1


def test_a_forged_event_about_a_real_ticket_says_only_what_the_ticket_says(store, service):
    """Text in a message never reaches a notification: the title, step and reference are the stored ticket's."""
    ticket = stored(store, steps=[step(candidate_groups=("managers",))])
    for message in (forged("ticket.completed", ticket.id, reference=PHISHING),  # the ticket is in progress
                    forged("ticket.completed", ticket.id, requester="erin"),  # not its requester
                    forged("task.created", ticket.id, task={"id": "k9", "name": PHISHING}),  # a step it never had
                    forged("task.created", ticket.id, actor="bob", task={"id": "k1"}),  # steps open on their own
                    forged("task.completed", ticket.id, actor="bob", task={"id": "k1"}, comment=PHISHING),  # not done
                    forged("ticket.needs_attention", ticket.id, error=PHISHING)):  # never needed attention
        with pytest.raises(RejectMessage, match="does not fit ticket"):
            service.handle(message)
    assert nobody_told(service) and service.rejected == 6
    # A real step's opening, forged again with other text and a fresh id, says what the ticket says.
    assert service.handle(forged("task.created", ticket.id, task={"id": "k1", "name": PHISHING},
                                 title=PHISHING)) == 3
    assert {n.message for n in service.list(bob).items} == {
        'Finance Approval of ticket "Laptop" from alice awaits you.'}


@pytest.mark.parametrize("change_body, why", [
    (lambda b: b.pop("actor"), "missing actor"),
    (lambda b: b.update(version=1), "unsupported event schema version"),
    (lambda b: b.update(version=True), "unsupported event schema version"),
    (lambda b: b.update(version="2"), "unsupported event schema version"),
    (lambda b: b.update(type="ticket.some_future_event"), "unknown event type"),
    (lambda b: b.update(occurred_at="yesterday"), "occurred_at is not an ISO 8601 time"),
    (lambda b: b.update(occurred_at="2026-01-01T10:00:00"), "occurred_at has no UTC offset"),
    (lambda b: b.update(ticket_id="t1"), "ticket_id is not an id of PFlow's format"),
    (lambda b: b.update(ticket_id="../../etc/passwd"), "ticket_id is not an id of PFlow's format"),
    (lambda b: b.update(event_id=7), "event_id must be a string, not int"),
    (lambda b: b.update(actor=["system"]), "actor must be a string, not list"),
    (lambda b: b.update(data="x"), "data must be an object"),
    (lambda b: b.update(extra=1), "unknown fields"),
    (lambda b: b["data"].update(title="x" * 201), "data.title is longer than 200 characters"),
    (lambda b: b["data"].update(comment="x" * 30_000), "data.comment is longer than 20000 characters"),
    (lambda b: b["data"].update(values={"a": "x" * 200_000}), "data.values is longer than"),
    (lambda b: b["data"].update(current_steps=["x"] * 500), "data.current_steps has more than 200 entries"),
    (lambda b: b["data"].update(status="approved"), "data.status must be one of"),
    (lambda b: b["data"].update(html="<script>"), "data has unknown fields"),
    (lambda b: b["data"].update(requester="alice\r\nINFO forged"), "data.requester holds control characters"),
    (lambda b: b.update(type="task.created"), "names no data.task"),
])
def test_a_message_of_the_wrong_shape_is_refused_saying_why(service, change_body, why):
    message = forged()
    change_body(message.body)
    with pytest.raises(RejectMessage, match=why):
        service.handle(message)
    assert nobody_told(service) and service.rejected == 1


def test_a_refused_message_is_dropped_logged_once_and_counted_and_the_next_one_handled(store, service, caplog):
    """Through the consumer on the in-memory bus: the forged message is acknowledged and dropped (not put back
    for ever), one WARNING says why without its text, and the valid event after it still notifies."""
    ticket = stored(store)
    bus = InMemoryEventPublisher()
    consumer = NotificationConsumer(InMemoryEventConsumer(bus), service)
    bad = forged("ticket.needs_attention", error=PHISHING * 100)
    bus.publish(bad.routing_key, bad.body, message_id=bad.message_id)
    good = _ended(store, ticket, "rejected")
    bus.publish(good.routing_key, good.body, message_id=good.message_id)
    with caplog.at_level(logging.INFO):
        assert consumer.drain(0.2) == 2
    assert not bus.queue  # neither is waiting to be delivered again
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    line = warnings[0].getMessage()
    assert bad.body["event_id"] in line and "names no known ticket" in line
    assert PHISHING not in line and len(line) < 500
    assert consumer.rejected == service.rejected == 1
    assert [n.kind for n in service.list(TEST_USERS.get("alice")).items] == ["ticket.rejected"]
    assert all(service.list(u).total == 0 for u in TEST_USERS.list_users() if u.username != "alice")


def test_a_long_forged_value_is_quoted_short(service):
    message = forged()
    message.body["ticket_id"] = "x" * 10_000
    with pytest.raises(RejectMessage) as caught:
        service.handle(message)
    assert len(str(caught.value)) < 200
