"""The TicketRepository / UnitOfWork / Outbox contract, run on every store."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable, ValidationError
from pflow.domain.model import Ticket, TicketStatus
from pflow.domain.users import SYSTEM, User
from pflow.ports.repository import TicketQuery
from tests.support import STORES, make_store

alice = User("alice", "Alice", frozenset({"requester"}))
erin = User("erin", "Erin", frozenset({"requester"}))
bob = User("bob", "Bob", frozenset({"manager"}))


@pytest.fixture(params=STORES)
def store_kind(request):
    return request.param


@pytest.fixture
def commits():
    return []


@pytest.fixture
def store(store_kind, tmp_path, commits):
    s = make_store(store_kind, tmp_path, on_commit=lambda: commits.append(1))
    yield s
    s.close()


def add(store, requester=alice, **data) -> Ticket:
    ticket = Ticket.create(requester, {"title": "Laptop", **data})
    with store.uow() as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket


def test_a_ticket_round_trips_with_its_history(store):
    t = add(store, amount="1200.50", priority="high", description="for the new hire")
    with store.uow() as uow:
        got = uow.tickets.get(t.id)
        got.submit(alice)
        uow.commit()
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
    assert (again.title, again.description, again.amount, again.priority, again.requester, again.status) == (
        "Laptop", "for the new hire", Decimal("1200.50"), "high", "alice", TicketStatus.PENDING_APPROVAL)
    assert again.created_at == t.created_at and again.created_at.tzinfo is not None
    assert [(h.action, h.actor, h.from_status, h.to_status) for h in again.history] == [
        ("created", "alice", None, "draft"), ("submitted", "alice", "draft", "pending_approval")]
    assert again.history[1].at.tzinfo is not None
    assert again.version == 2


def test_unknown_ticket_is_not_found(store):
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.get("no-such-ticket")


def test_nothing_is_stored_without_commit(store):
    ticket = Ticket.create(alice, {"title": "forgotten"})
    with store.uow() as uow:
        uow.tickets.add(ticket)
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.get(ticket.id)
    t = add(store)
    with store.uow() as uow:
        uow.tickets.get(t.id).submit(alice)  # no commit
    with store.uow() as uow:
        assert uow.tickets.get(t.id).status == TicketStatus.DRAFT
        assert uow.outbox.pending(100)[-1].routing_key == "ticket.created"


def test_version_changes_only_when_the_ticket_changes(store):
    t = add(store)
    with store.uow() as uow:
        uow.tickets.get(t.id)
        uow.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).version == 1


def test_the_second_of_two_concurrent_changes_is_refused(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        a = first.tickets.get(t.id)
        b = second.tickets.get(t.id)
        a.update(alice, {"title": "first"})
        b.update(alice, {"title": "second"})
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        stored = uow.tickets.get(t.id)
        assert stored.title == "first" and stored.version == 2
        assert [h.details for h in stored.history if h.action == "updated"] == [{"changed": ["title"]}]


def test_many_threads_racing_on_one_ticket_one_wins(store):
    t = add(store)
    with store.uow() as uow:
        uow.tickets.get(t.id).submit(alice)
        uow.commit()
    barrier = threading.Barrier(6)
    results: list[str] = []

    def decide(i):
        uow = store.uow()
        with uow:
            ticket = uow.tickets.get(t.id)
            ticket.approve(User(f"m{i}", roles=frozenset({"manager"})))
            barrier.wait()
            try:
                uow.commit()
                results.append("ok")
            except ConcurrencyConflict:
                results.append("conflict")

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count("ok") == 1 and results.count("conflict") == 5
    with store.uow() as uow:
        assert len([e for e in uow.outbox.pending(100) if e.routing_key == "ticket.approved"]) == 1


def test_events_go_to_the_outbox_with_the_change(store, commits):
    t = add(store)
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.submit(alice)
        ticket.approve(bob, "ok")
        uow.commit()
    with store.uow() as uow:
        pending = uow.outbox.pending(100)
    assert [m.routing_key for m in pending] == ["ticket.created", "ticket.submitted", "ticket.approved"]
    assert [m.id for m in pending] == sorted(m.id for m in pending)
    body = pending[2].body
    assert body["type"] == "ticket.approved" and body["ticket_id"] == t.id and body["actor"] == "bob"
    assert body["event_id"] == pending[2].event_id and body["version"] == 1
    assert body["data"]["approver"] == "bob" and body["data"]["comment"] == "ok"
    assert len(commits) == 2


def test_a_conflicting_commit_writes_no_events(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        first.tickets.get(t.id).submit(alice)
        second.tickets.get(t.id).submit(alice)
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        assert [m.routing_key for m in uow.outbox.pending(100)] == ["ticket.created", "ticket.submitted"]


def test_sent_messages_leave_the_outbox_and_failures_are_counted(store):
    for _ in range(3):
        add(store)
    with store.uow() as uow:
        pending = uow.outbox.pending(2)
        assert len(pending) == 2
        uow.outbox.mark_sent([pending[0].id])
        uow.outbox.record_failure(pending[1].id, "broker down")
        uow.commit()
    with store.uow() as uow:
        rest = uow.outbox.pending(100)
    assert [m.id for m in rest] == [pending[1].id, rest[1].id] and len(rest) == 2
    assert rest[0].attempts == 1
    with store.uow() as uow:
        uow.outbox.mark_sent([m.id for m in rest])  # not committed
    with store.uow() as uow:
        assert len(uow.outbox.pending(100)) == 2


def test_sent_messages_are_purged_after_their_retention_and_unsent_ones_never(store):
    for _ in range(4):
        add(store)
    with store.uow() as uow:
        pending = uow.outbox.pending(100)
        uow.outbox.mark_sent([m.id for m in pending[:3]])
        uow.commit()
    now = datetime.now(timezone.utc)
    with store.uow() as uow:
        assert uow.outbox.purge_sent(now - timedelta(days=1)) == 0  # sent just now: within any retention
        assert uow.outbox.purge_sent(now + timedelta(seconds=5), limit=2) == 2  # not committed
    with store.uow() as uow:
        assert uow.outbox.purge_sent(now + timedelta(seconds=5), limit=2) == 2
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.purge_sent(now + timedelta(days=365)) == 1
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.purge_sent(now + timedelta(days=365)) == 0
        assert [m.id for m in uow.outbox.pending(100)] == [pending[3].id]  # the unsent one stays, whatever its age


def _seed(store):
    made = []
    for i, (who, status) in enumerate([(alice, "draft"), (alice, "pending"), (erin, "pending"), (erin, "draft"),
                                       (alice, "pending")]):
        t = Ticket.create(who, {"title": f"Item {i} {'Laptop' if i % 2 else 'Monitor'}",
                                "description": "needs VPN" if i == 3 else ""})
        t.created_at = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i)
        if status == "pending":
            t.submit(who)
        with store.uow() as uow:
            uow.tickets.add(t)
            uow.commit()
        made.append(t)
    return made


def test_listing_filters_sorts_and_pages(store):
    made = _seed(store)
    ids = [t.id for t in made]
    with store.uow() as uow:
        everything = uow.tickets.list(TicketQuery())
        assert [t.id for t in everything.items] == ids[::-1] and everything.total == 5
        oldest = uow.tickets.list(TicketQuery(oldest_first=True))
        assert [t.id for t in oldest.items] == ids
        pending = uow.tickets.list(TicketQuery(status="pending_approval"))
        assert [t.id for t in pending.items] == [ids[4], ids[2], ids[1]]
        mine = uow.tickets.list(TicketQuery(requester="erin"))
        assert [t.id for t in mine.items] == [ids[3], ids[2]]
        others = uow.tickets.list(TicketQuery(status="pending_approval", exclude_requester="alice"))
        assert [t.id for t in others.items] == [ids[2]]
        text = uow.tickets.list(TicketQuery(text="laptop"))
        assert [t.id for t in text.items] == [ids[3], ids[1]]
        vpn = uow.tickets.list(TicketQuery(text="VPN"))
        assert [t.id for t in vpn.items] == [ids[3]]
        page2 = uow.tickets.list(TicketQuery(page=2, page_size=2))
        assert [t.id for t in page2.items] == [ids[2], ids[1]] and page2.total == 5
        past = uow.tickets.list(TicketQuery(page=9, page_size=2))
        assert past.items == [] and past.total == 5
        assert uow.tickets.list(TicketQuery(text="nothing like this")).total == 0
    assert everything.items[0].history[0].action == "created"


def test_text_search_treats_wildcards_literally(store):
    add(store, title="100% done")
    add(store, title="1000 done")
    with store.uow() as uow:
        assert [t.title for t in uow.tickets.list(TicketQuery(text="100%")).items] == ["100% done"]
        assert [t.title for t in uow.tickets.list(TicketQuery(text="_")).items] == []


def test_bad_queries_are_refused():
    with pytest.raises(ValidationError) as err:
        TicketQuery(status="lost", page=0, page_size=1000)
    assert set(err.value.details) == {"status", "page", "page_size"}


def test_an_unreachable_store_says_database(store):
    t = add(store)
    store.make_unreachable()
    with pytest.raises(ServiceUnavailable) as err:
        with store.uow() as uow:
            uow.tickets.get(t.id)
    assert err.value.dependency == "database"
    with pytest.raises(ServiceUnavailable):
        with store.uow() as uow:
            uow.check()


def test_completion_keeps_the_reference(store):
    t = add(store)
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.submit(alice)
        ticket.approve(bob)
        ticket.complete_provisioning(SYSTEM, "PRV-42")
        uow.commit()
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
    assert again.fulfilment_reference == "PRV-42" and again.approver == "bob"
    assert again.status == TicketStatus.COMPLETED


# --- notifications and processed events (same units of work, same rules) -------------------------

def _note(recipient="alice", minutes=0, kind="ticket.approved", ticket_id="t-1", message="Your ticket was approved."):
    from pflow.domain.notifications import Notification

    return Notification.new(recipient=recipient, ticket_id=ticket_id, kind=kind, message=message,
                            created_at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
                            event_id=f"e-{recipient}-{minutes}", params={"title": "笔记本", "actor": recipient})


def test_notifications_are_listed_newest_first_per_recipient_with_unread_counts(store):
    notes = [_note("alice", 0), _note("alice", 2), _note("bob", 1, kind="ticket.submitted"), _note("alice", 1)]
    with store.uow() as uow:
        for n in notes:
            uow.notifications.add(n)
        uow.commit()
    with store.uow() as uow:
        page = uow.notifications.list_for("alice")
        assert [n.id for n in page.items] == [notes[1].id, notes[3].id, notes[0].id]
        assert (page.total, page.unread, page.page, page.page_size) == (3, 3, 1, 20)
        got = page.items[0]
        assert (got.recipient, got.ticket_id, got.kind, got.message, got.read_at) == (
            "alice", "t-1", "ticket.approved", "Your ticket was approved.", None)
        assert got.params == {"title": "笔记本", "actor": "alice"}
        assert got.created_at == notes[1].created_at and got.created_at.tzinfo is not None
        second = uow.notifications.list_for("alice", page=2, page_size=2)
        assert [n.id for n in second.items] == [notes[0].id] and second.total == 3
        assert [n.kind for n in uow.notifications.list_for("bob").items] == ["ticket.submitted"]
        assert uow.notifications.list_for("nobody").total == 0


def test_reading_notifications(store):
    notes = [_note("alice", i) for i in range(3)]
    with store.uow() as uow:
        for n in notes:
            uow.notifications.add(n)
        uow.notifications.add(_note("bob", 9))
        uow.commit()
    read_at = datetime(2026, 2, 1, tzinfo=timezone.utc)
    with store.uow() as uow:
        marked = uow.notifications.mark_read(notes[0].id, "alice", read_at)
        assert marked.read_at == read_at
        uow.commit()
    with store.uow() as uow:
        again = uow.notifications.mark_read(notes[0].id, "alice", read_at + timedelta(days=1))
        assert again.read_at == read_at  # the first read counts
        uow.commit()
    with store.uow() as uow:
        unread = uow.notifications.list_for("alice", unread_only=True)
        assert [n.id for n in unread.items] == [notes[2].id, notes[1].id]
        assert (unread.total, unread.unread) == (2, 2)
        assert uow.notifications.list_for("alice").total == 3
        with pytest.raises(NotFound):
            uow.notifications.mark_read(notes[1].id, "bob", read_at)  # not bob's
        with pytest.raises(NotFound):
            uow.notifications.get("no-such-notification", "alice")
    with store.uow() as uow:
        assert uow.notifications.mark_all_read("alice", read_at) == 2  # not committed
    with store.uow() as uow:
        assert uow.notifications.list_for("alice").unread == 2
        assert uow.notifications.mark_all_read("alice", read_at) == 2
        uow.commit()
    with store.uow() as uow:
        assert uow.notifications.list_for("alice").unread == 0
        assert uow.notifications.list_for("bob").unread == 1
        assert uow.notifications.get(notes[1].id, "alice").read_at == read_at


def test_bad_notification_pages_are_refused(store):
    with store.uow() as uow, pytest.raises(ValidationError) as err:
        uow.notifications.list_for("alice", page=0, page_size=101)
    assert set(err.value.details) == {"page", "page_size"}


def test_an_event_is_processed_once_with_its_effects(store):
    with store.uow() as uow:
        assert not uow.processed_events.contains("notifications", "e1")
        uow.notifications.add(_note("alice", 1))
        uow.processed_events.add("notifications", "e1")
        uow.commit()
    with store.uow() as uow:
        assert uow.processed_events.contains("notifications", "e1")
        assert not uow.processed_events.contains("audit", "e1")  # per consumer
        assert not uow.processed_events.contains("notifications", "e2")


def test_recording_an_event_twice_stores_nothing_the_second_time(store):
    first, second = store.uow(), store.uow()
    with first, second:
        assert not first.processed_events.contains("notifications", "e1")
        assert not second.processed_events.contains("notifications", "e1")
        first.notifications.add(_note("alice", 1))
        first.processed_events.add("notifications", "e1")
        second.notifications.add(_note("alice", 2))
        second.processed_events.add("notifications", "e1")
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        assert [n.event_id for n in uow.notifications.list_for("alice").items] == ["e-alice-1"]


def test_nothing_of_an_uncommitted_event_is_kept(store):
    with store.uow() as uow:
        uow.notifications.add(_note("alice", 1))
        uow.processed_events.add("notifications", "e1")
    with store.uow() as uow:
        assert not uow.processed_events.contains("notifications", "e1")
        assert uow.notifications.list_for("alice").total == 0


def test_a_ticket_read_inside_a_unit_of_work_stays_readable_after_it(store):
    t = add(store)
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.submit(alice)
        uow.commit()
    with store.uow() as uow:
        listed = uow.tickets.list(TicketQuery()).items
    assert ticket.status == TicketStatus.PENDING_APPROVAL and ticket.version == 2
    assert [h.action for h in ticket.history] == ["created", "submitted"]
    assert [h.action for h in listed[0].history] == ["created", "submitted"]


def test_a_failed_commit_leaves_the_changed_ticket_readable(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        a = first.tickets.get(t.id)
        b = second.tickets.get(t.id)
        a.submit(alice)
        b.update(alice, {"title": "changed meanwhile"})
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
        assert (b.id, b.title, len(b.history)) == (t.id, "changed meanwhile", 2)  # e.g. for compensation
    assert b.title == "changed meanwhile"


def test_the_relay_lock_is_free_when_nobody_relays(store):
    with store.uow() as uow:
        assert uow.outbox.try_lock_relay() is True
