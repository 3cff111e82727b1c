"""The Ticket aggregate: transitions, rules, history and events."""

from decimal import Decimal

import pytest

from pflow.domain import events as ev
from pflow.domain.errors import InvalidTransition, PermissionDenied, ValidationError
from pflow.domain.model import Priority, Ticket, TicketStatus, validate_ticket_fields
from pflow.domain.users import SYSTEM, User

alice = User("alice", "Alice", frozenset({"requester"}))
erin = User("erin", "Erin", frozenset({"requester"}))
bob = User("bob", "Bob", frozenset({"manager"}))
carol = User("carol", "Carol", frozenset({"admin"}))
boss = User("boss", "Boss", frozenset({"manager", "requester"}))


def new_ticket(requester=alice, **data):
    return Ticket.create(requester, {"title": "New laptop", **data})


def pending(requester=alice):
    t = new_ticket(requester)
    t.submit(requester)
    return t


def approved():
    t = pending()
    t.approve(bob, "fine")
    return t


def test_create_makes_a_draft_with_history_and_event():
    t = new_ticket(amount="1200.5", priority="high", description="  for Erin ")
    assert t.status == TicketStatus.DRAFT
    assert t.amount == Decimal("1200.50")
    assert t.priority == Priority.HIGH
    assert t.description == "for Erin"
    assert t.requester == "alice" and t.approver is None
    assert [(h.action, h.from_status, h.to_status) for h in t.history] == [("created", None, "draft")]
    assert [type(e) for e in t.events] == [ev.TicketCreated]
    assert t.events[0].ticket_id == t.id and t.events[0].actor == "alice"


def test_defaults():
    t = Ticket.create(alice, {"title": "x"})
    assert t.priority == Priority.NORMAL and t.amount is None and t.description == ""


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({"title": 5}, "title"),
        ({"title": "ok", "amount": "-1"}, "amount"),
        ({"title": "ok", "amount": "1.234"}, "amount"),
        ({"title": "ok", "amount": "abc"}, "amount"),
        ({"title": "ok", "amount": "NaN"}, "amount"),
        ({"title": "ok", "amount": True}, "amount"),
        ({"title": "ok", "amount": "1e20"}, "amount"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "description": "d" * 4001}, "description"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_named(data, field):
    with pytest.raises(ValidationError) as err:
        Ticket.create(alice, data)
    assert field in err.value.details


def test_all_invalid_fields_are_reported_at_once():
    with pytest.raises(ValidationError) as err:
        validate_ticket_fields({"title": "", "amount": -3, "priority": "x"})
    assert set(err.value.details) == {"title", "amount", "priority"}


def test_amount_zero_is_fine():
    assert new_ticket(amount=0).amount == Decimal("0.00")


def test_happy_path_records_every_transition():
    t = pending()
    t.approve(bob, "ok")
    t.complete_provisioning(SYSTEM, "PRV-1")
    assert t.status == TicketStatus.COMPLETED
    assert t.approver == "bob" and t.fulfilment_reference == "PRV-1"
    assert [h.action for h in t.history] == ["created", "submitted", "approved", "completed"]
    assert [e.type for e in t.events] == ["ticket.created", "ticket.submitted", "ticket.approved", "ticket.completed"]
    assert t.history[2].comment == "ok" and t.history[2].actor == "bob"
    assert t.events[2].data["approver"] == "bob"


def test_reject_needs_a_comment():
    t = pending()
    for comment in (None, "", "   "):
        with pytest.raises(ValidationError) as err:
            t.reject(bob, comment)
        assert "comment" in err.value.details
    assert t.status == TicketStatus.PENDING_APPROVAL
    t.reject(bob, "too expensive")
    assert t.status == TicketStatus.REJECTED
    assert t.history[-1].comment == "too expensive"
    assert t.events[-1].type == "ticket.rejected" and t.events[-1].data["comment"] == "too expensive"


def test_only_managers_decide():
    t = pending()
    for who in (erin, carol):
        with pytest.raises(PermissionDenied):
            t.approve(who)
        with pytest.raises(PermissionDenied):
            t.reject(who, "no")


def test_nobody_decides_their_own_ticket():
    t = pending(requester=boss)
    with pytest.raises(PermissionDenied, match="own ticket"):
        t.approve(boss)
    with pytest.raises(PermissionDenied, match="own ticket"):
        t.reject(boss, "no")
    t.approve(boss, separation_of_duties=False)
    assert t.status == TicketStatus.APPROVED


def test_only_requester_or_admin_edits_and_submits():
    t = new_ticket()
    with pytest.raises(PermissionDenied):
        t.update(erin, {"title": "mine now"})
    with pytest.raises(PermissionDenied):
        t.submit(bob)
    t.update(carol, {"title": "Corrected by admin"})
    assert t.title == "Corrected by admin"
    assert t.history[-1].action == "updated" and t.history[-1].actor == "carol"
    t.submit(carol)
    assert t.status == TicketStatus.PENDING_APPROVAL


def test_edit_only_in_draft_and_no_op_edit_records_nothing():
    t = new_ticket()
    t.update(alice, {"title": "New laptop"})
    assert len(t.history) == 1
    t.submit(alice)
    with pytest.raises(InvalidTransition):
        t.update(alice, {"title": "changed"})


def test_partial_edit_validates_only_given_fields():
    t = new_ticket(amount="5")
    t.update(alice, {"priority": "low"})
    assert t.priority == Priority.LOW and t.amount == Decimal("5.00")
    with pytest.raises(ValidationError) as err:
        t.update(alice, {"title": ""})
    assert "title" in err.value.details


@pytest.mark.parametrize("action", ["approve", "reject", "complete", "fail", "retry"])
def test_draft_allows_no_later_transition(action):
    t = new_ticket()
    calls = {
        "approve": lambda: t.approve(bob),
        "reject": lambda: t.reject(bob, "no"),
        "complete": lambda: t.complete_provisioning(SYSTEM, "R"),
        "fail": lambda: t.fail_provisioning(SYSTEM, "boom"),
        "retry": lambda: t.retry_provisioning(carol),
    }
    with pytest.raises(InvalidTransition):
        calls[action]()
    assert t.status == TicketStatus.DRAFT and len(t.history) == 1


def test_submit_twice_is_refused():
    t = pending()
    with pytest.raises(InvalidTransition):
        t.submit(alice)


def test_decisions_are_final():
    t = pending()
    t.reject(bob, "no")
    with pytest.raises(InvalidTransition):
        t.approve(bob)
    t2 = approved()
    with pytest.raises(InvalidTransition):
        t2.reject(bob, "changed my mind")


def test_provisioning_failure_and_audited_retry():
    t = approved()
    t.fail_provisioning(SYSTEM, "backend down")
    assert t.status == TicketStatus.PROVISIONING_FAILED
    with pytest.raises(PermissionDenied):
        t.retry_provisioning(bob)
    t.retry_provisioning(carol, "backend is back")
    assert t.status == TicketStatus.APPROVED
    assert (t.history[-1].action, t.history[-1].actor, t.history[-1].comment) == (
        "provisioning_retried", "carol", "backend is back")
    t.complete_provisioning(SYSTEM, "PRV-9")
    assert t.status == TicketStatus.COMPLETED
    assert [e.type for e in t.events][-3:] == ["ticket.provisioning_failed", "ticket.provisioning_retried",
                                               "ticket.completed"]


def test_allowed_actions_follow_the_rules():
    t = new_ticket()
    assert t.allowed_actions(alice) == ["edit", "submit"]
    assert t.allowed_actions(bob) == []
    t.submit(alice)
    assert t.allowed_actions(alice) == []
    assert t.allowed_actions(bob) == ["approve", "reject"]
    assert pending(requester=boss).allowed_actions(boss) == []
    t.approve(bob)
    t.fail_provisioning(SYSTEM, "x")
    assert t.allowed_actions(carol) == ["retry_provisioning"]


def test_event_message_round_trip():
    t = new_ticket()
    message = t.events[0].to_message()
    assert set(message) == {"event_id", "type", "version", "occurred_at", "ticket_id", "actor", "data"}
    assert message["version"] == 1
    again = ev.event_from_message(message)
    assert again == t.events[0]
    with pytest.raises(ValueError):
        ev.event_from_message({**message, "type": "ticket.unknown"})


def test_each_event_has_its_own_id():
    t = approved()
    assert len({e.event_id for e in t.events}) == len(t.events) == 3
