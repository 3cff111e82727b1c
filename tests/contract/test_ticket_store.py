"""The TicketRepository / UnitOfWork / Outbox contract, run on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable, ValidationError
from pflow.domain.model import Progress, Ticket, TicketStatus
from pflow.domain.steps import FormField, Step
from pflow.domain.users import User
from pflow.ports.repository import TaskQuery, TicketQuery
from tests.support import STORES, make_store

alice = User("alice", "Alice", frozenset({"requester"}))
erin = User("erin", "Erin", frozenset({"requester"}))
bob = User("bob", "Bob", groups=frozenset({"managers"}))
fay = User("fay", "Fay", groups=frozenset({"finance"}))

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
APPROVED = FormField("approved", "Approve?", "boolean", required=True)
OUTCOME = FormField("outcome", "Decision", "enum", required=True, default="approve",
                    values=(("approve", "Approve"), ("reject", "Reject"), ("ask", "Ask for more")))
NOTE = FormField("note", "Note", "string")


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


def add(store, requester=alice, title="Laptop", type_key="it_request", fields=None, *, created=None,
        submit=False) -> Ticket:
    ticket = Ticket.create(requester, type_key, title, {"priority": "normal"} if fields is None else fields)
    if created is not None:
        ticket.created_at = ticket.updated_at = created
    if submit:
        ticket.submit(requester)
    with store.uow() as uow:
        uow.tickets.add(ticket)
        uow.commit()
    return ticket


def step(task_id, key="ManagerApproval", name="Manager approval", *, groups=(), users=(), assignee=None,
         form=(APPROVED,), minutes=0, due=None) -> Step:
    return Step(task_id=task_id, definition_key=key, name=name, candidate_groups=tuple(groups),
                candidate_users=tuple(users), assignee=assignee, due=due, created_at=T0 + timedelta(minutes=minutes),
                form=tuple(form))


def follow(store, ticket_id, *steps, automated=(), **progress):
    with store.uow() as uow:
        ticket = uow.tickets.get(ticket_id)
        ticket.follow(Progress(running=progress.pop("running", True), steps=tuple(steps), automated=automated,
                               **progress))
        uow.commit()
    return ticket


def inbox(store, user: User, **query):
    with store.uow() as uow:
        return uow.tickets.tasks(TaskQuery(username=user.username, groups=tuple(sorted(user.groups)), **query))


def task_ids(page):
    return [item.step.task_id for item in page.items]


# --- one ticket: what is stored, and when ---------------------------------------------------------

def test_every_attribute_round_trips(store):
    fields = {"description": "for the new hire", "amount": 1200.5, "count": 3, "priority": "high", "urgent": True,
              "needed_by": "2026-02-01", "note": "笔记本"}
    t = add(store, fields=fields)
    due = datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc)
    opened = (step("t-1", groups=("managers", "leads"), users=("carol",), form=(APPROVED, NOTE), due=due),
              step("t-2", key="Security", name="Security review", assignee="sam", form=(OUTCOME,), minutes=1))
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.submit(alice)
        ticket.definition_id = "ticket_approval:3:abc"
        ticket.follow(Progress(running=True, steps=opened, automated=("Provisioning",)))
        ticket.record_step(bob, opened[0], {"approved": True, "note": "ok"}, "fine by me")
        uow.commit()
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
    assert (again.type, again.title, again.fields, again.requester, again.status) == (
        "it_request", "Laptop", fields, "alice", TicketStatus.IN_PROGRESS)
    assert again.steps == list(opened)  # frozen dataclasses, equal field by field (form, due, created, ...)
    assert again.steps[0].due == due and again.steps[0].due.tzinfo is not None
    assert again.steps[1].form[0].values == OUTCOME.values and again.steps[1].is_decision
    assert list(again.current_steps) == ["Manager approval", "Security review", "Provisioning"]
    assert (again.last_editor, list(again.deciders), again.attention, again.definition_id) == (
        "alice", ["bob"], None, "ticket_approval:3:abc")
    assert again.created_at == t.created_at and again.created_at.tzinfo is not None
    assert [(h.action, h.actor, h.from_status, h.to_status) for h in again.history] == [
        ("created", "alice", None, "draft"), ("submitted", "alice", "draft", "in_progress"),
        ("step_completed", "bob", "in_progress", "in_progress")]
    assert again.history[2].comment == "fine by me"
    assert again.history[2].details == {"step": "ManagerApproval", "step_name": "Manager approval", "task_id": "t-1",
                                        "values": {"approved": True, "note": "ok"},
                                        "opened_at": "2026-01-01T00:00:00+00:00",  # the step's created_at
                                        "due": due.isoformat()}  # and its due time (the dashboard's SLA)
    assert again.version == 2
    assert again.results == {}  # none until an automated step returns some


def test_attention_and_the_end_of_the_process_are_kept(store):
    t = add(store, submit=True)
    follow(store, t.id, automated=("Provisioning",), incident="connection refused")
    with store.uow() as uow:
        stuck = uow.tickets.get(t.id)
    assert (stuck.status, stuck.attention, list(stuck.current_steps)) == (
        TicketStatus.NEEDS_ATTENTION, "connection refused", ["Provisioning"])
    follow(store, t.id, running=False, outcome="rejected")
    with store.uow() as uow:
        done = uow.tickets.get(t.id)
    assert (done.status, done.attention, done.steps, list(done.current_steps)) == (
        TicketStatus.REJECTED, None, [], [])


def test_unknown_ticket_is_not_found(store):
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.get("no-such-ticket")
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.find_by_task("no-such-task")


def test_nothing_is_stored_without_commit(store):
    ticket = Ticket.create(alice, "it_request", "forgotten", {})
    with store.uow() as uow:
        uow.tickets.add(ticket)
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.get(ticket.id)
    t = add(store, submit=True)
    with store.uow() as uow:
        uow.tickets.get(t.id).follow(Progress(running=True, steps=(step("t-1", groups=("managers",)),)))
    with store.uow() as uow:
        assert uow.tickets.get(t.id).steps == []
        assert uow.outbox.pending(100)[-1].routing_key == "ticket.submitted"
    assert inbox(store, bob).total == 0


def test_version_changes_only_when_the_ticket_changes(store):
    t = add(store, submit=True)
    s1 = step("t-1", groups=("managers",))
    follow(store, t.id, s1)
    with store.uow() as uow:
        uow.tickets.get(t.id)
        uow.commit()
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        assert ticket.version == 2
        # the process says the same again: nothing to write (the steps compare equal after the round trip)
        ticket.steps = [step("t-1", groups=("managers",))]
        ticket.fields = dict(ticket.fields)
        uow.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).version == 2
    assert task_ids(inbox(store, bob)) == ["t-1"]


def test_changes_made_in_place_are_stored(store):
    """The domain appends to its lists and sets keys of its fields; the store sees those as changes."""
    t = add(store, submit=True)
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.deciders.append("bob")
        ticket.current_steps.append("Manager approval")
        ticket.fields["priority"] = "high"
        uow.commit()
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
    assert (list(again.deciders), list(again.current_steps), again.fields["priority"], again.version) == (
        ["bob"], ["Manager approval"], "high", 2)


def test_two_units_of_work_told_the_same_steps_at_once_both_commit(store):
    """Following an instance is repeated by whoever looks (API, worker, reconciliation): the same steps told
    twice at once change nothing, so neither is refused and the inbox rows stay as they were."""
    t = add(store, submit=True)
    follow(store, t.id, step("t-1", groups=("managers",)))
    first, second = store.uow(), store.uow()
    with first, second:
        for uow in (first, second):
            ticket = uow.tickets.get(t.id)
            ticket.steps = [step("t-1", groups=("managers",))]
            ticket.current_steps = ["Manager approval"]
        first.commit()
        second.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).version == 2
    assert task_ids(inbox(store, bob)) == ["t-1"]


def test_the_second_of_two_concurrent_changes_is_refused(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        a = first.tickets.get(t.id)
        b = second.tickets.get(t.id)
        a.update(alice, title="first")
        b.update(alice, title="second")
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        stored = uow.tickets.get(t.id)
        assert stored.title == "first" and stored.version == 2
        assert [h.details for h in stored.history if h.action == "updated"] == [{"changed": ["title"]}]


def _race(store, count, change) -> int:
    """``count`` threads each open a unit of work, make ``change(i, uow)`` and commit at once; exactly one may
    win (the others get ConcurrencyConflict), and none may stall. Returns the winner's index."""
    barrier = threading.Barrier(count)
    results: list[str] = []

    def run(i):
        with store.uow() as uow:
            change(i, uow)
            barrier.wait(timeout=10)
            try:
                uow.commit()
                results.append(f"ok {i}")
            except ConcurrencyConflict:
                results.append("conflict")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not any(th.is_alive() for th in threads), "a commit stalled"
    assert results.count("conflict") == count - 1, results
    return int(next(r for r in results if r.startswith("ok")).split()[1])


def test_many_threads_racing_to_complete_one_step_one_wins(store):
    t = add(store, submit=True)
    s1 = step("t-1", groups=("managers",))
    follow(store, t.id, s1)

    def decide(i, uow):
        ticket = uow.tickets.get(t.id)
        ticket.record_step(User(f"m{i}", groups=frozenset({"managers"})), s1, {"approved": True}, None)
        ticket.follow(Progress(running=True, steps=(step(f"t-2-{i}", groups=("finance",)),)))

    winner = f"m{_race(store, 6, decide)}"
    with store.uow() as uow:
        stored = uow.tickets.get(t.id)
        completed = [e for e in uow.outbox.pending(100) if e.routing_key == "task.completed"]
    assert list(stored.deciders) == [winner] and [s.task_id for s in stored.steps] == [f"t-2-{winner[1:]}"]
    assert len(completed) == 1 and completed[0].body["actor"] == winner
    # the inbox rows are the winner's too: only its next step is offered, once
    assert task_ids(inbox(store, fay)) == [f"t-2-{winner[1:]}"]


def test_events_go_to_the_outbox_with_the_change(store, commits):
    t = add(store)
    s1 = step("t-1", groups=("managers",))
    with store.uow() as uow:
        ticket = uow.tickets.get(t.id)
        ticket.submit(alice)
        ticket.follow(Progress(running=True, steps=(s1,)))
        ticket.record_step(bob, s1, {"approved": True}, "ok")
        uow.commit()
    with store.uow() as uow:
        pending = uow.outbox.pending(100)
    assert [m.routing_key for m in pending] == ["ticket.created", "ticket.submitted", "task.created", "task.completed"]
    assert [m.id for m in pending] == sorted(m.id for m in pending)
    body = pending[3].body
    assert body["type"] == "task.completed" and body["ticket_id"] == t.id and body["actor"] == "bob"
    assert body["event_id"] == pending[3].event_id and body["version"] == 2
    assert body["data"]["values"] == {"approved": True} and body["data"]["comment"] == "ok"
    assert len(commits) == 2


def test_a_conflicting_commit_writes_no_events_and_no_inbox_rows(store):
    t = add(store, submit=True)
    first, second = store.uow(), store.uow()
    with first, second:
        first.tickets.get(t.id).follow(Progress(running=True, steps=(step("t-1", groups=("managers",)),)))
        second.tickets.get(t.id).follow(Progress(running=True, steps=(step("t-9", groups=("finance",)),)))
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        assert [m.routing_key for m in uow.outbox.pending(100)] == ["ticket.created", "ticket.submitted",
                                                                   "task.created"]
        assert [s.task_id for s in uow.tickets.get(t.id).steps] == ["t-1"]
    assert inbox(store, fay).total == 0 and task_ids(inbox(store, bob)) == ["t-1"]


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




# --- listing -----------------------------------------------------------------------------------------

def _seed(store):
    """Five tickets a minute apart: (requester, type, status, title, fields)."""
    rows = [(alice, "it_request", "draft", "Item 0 Monitor", {"priority": "normal"}),
            (alice, "it_request", "in_progress", "Item 1 Laptop", {"priority": "high"}),
            (erin, "purchase_request", "in_progress", "Item 2 Chair", {"amount": 5000, "vendor": "ACME Office"}),
            (erin, "it_request", "draft", "Item 3 Laptop", {"description": "needs VPN", "priority": "low"}),
            (alice, "access_request", "needs_attention", "Item 4 Wiki", {"system": "wiki"})]
    made = []
    for i, (who, type_key, status, title, fields) in enumerate(rows):
        t = Ticket.create(who, type_key, title, fields)
        t.created_at = T0 + timedelta(minutes=i)
        t.updated_at = T0 + timedelta(minutes=10 - i)
        if status != "draft":
            t.submit(who)
            t.updated_at = T0 + timedelta(minutes=10 - i)
        if status == "needs_attention":
            t.follow(Progress(running=True, incident="boom"))
            t.updated_at = T0 + timedelta(minutes=10 - i)
        with store.uow() as uow:
            uow.tickets.add(t)
            uow.commit()
        made.append(t)
    return made


def _ids(store, **query):
    with store.uow() as uow:
        page = uow.tickets.list(TicketQuery(**query))
    return [t.id for t in page.items], page.total


def test_listing_filters_sorts_and_pages(store):
    made = _seed(store)
    ids = [t.id for t in made]
    assert _ids(store) == (ids[::-1], 5)
    assert _ids(store, oldest_first=True) == (ids, 5)
    assert _ids(store, status="in_progress") == ([ids[2], ids[1]], 2)
    assert _ids(store, statuses=("in_progress", "needs_attention")) == ([ids[4], ids[2], ids[1]], 3)
    assert _ids(store, status="draft", statuses=("needs_attention",)) == ([ids[4], ids[3], ids[0]], 3)
    assert _ids(store, type="it_request") == ([ids[3], ids[1], ids[0]], 3)
    assert _ids(store, type="it_request", status="draft") == ([ids[3], ids[0]], 2)
    assert _ids(store, requester="erin") == ([ids[3], ids[2]], 2)
    assert _ids(store, status="in_progress", exclude_requester="alice") == ([ids[2]], 1)
    assert _ids(store, sort="created") == (ids, 5)
    assert _ids(store, sort="-created") == (ids[::-1], 5)
    assert _ids(store, sort="updated") == (ids[::-1], 5)
    assert _ids(store, sort="-updated") == (ids, 5)
    assert _ids(store, sort="title") == (ids, 5)
    assert _ids(store, sort="-title", page=2, page_size=2) == ([ids[2], ids[1]], 5)
    assert _ids(store, page=2, page_size=2) == ([ids[2], ids[1]], 5)
    assert _ids(store, page=9, page_size=2) == ([], 5)
    with store.uow() as uow:
        first = uow.tickets.list(TicketQuery()).items[0]
        # a page's tickets are readable after the unit of work; their history comes with get
        assert uow.tickets.get(first.id).history[0].action == "created"
    assert first.fields == {"system": "wiki"} and first.title and first.status


def test_text_search_looks_in_the_title_string_fields_and_id_prefix(store):
    made = _seed(store)
    ids = [t.id for t in made]
    assert _ids(store, text="laptop") == ([ids[3], ids[1]], 2)
    assert _ids(store, text="  LAPTOP ") == ([ids[3], ids[1]], 2)
    assert _ids(store, text="VPN") == ([ids[3]], 1)  # a string field
    assert _ids(store, text="acme office") == ([ids[2]], 1)
    assert _ids(store, text="descr") == ([], 0)  # field names are not searched
    assert _ids(store, text="5000") == ([], 0)  # numbers are not text
    assert _ids(store, text="#" + ids[2][:6]) == ([ids[2]], 1)
    assert _ids(store, text="#" + ids[2][:6].upper()) == ([ids[2]], 1)
    assert _ids(store, text="#" + ids[2]) == ([ids[2]], 1)
    assert _ids(store, text=ids[2][:6] + "#") == ([], 0)
    assert _ids(store, text="nothing like this") == ([], 0)


def test_text_search_treats_wildcards_literally(store):
    add(store, title="100% done")
    add(store, title="1000 done")
    add(store, title="a_b")
    with store.uow() as uow:
        assert [t.title for t in uow.tickets.list(TicketQuery(text="100%")).items] == ["100% done"]
        assert [t.title for t in uow.tickets.list(TicketQuery(text="_")).items] == ["a_b"]
        assert uow.tickets.list(TicketQuery(text="#%")).total == 0


def test_an_edited_title_or_field_is_found_by_its_new_text(store):
    t = add(store, title="Old name", fields={"description": "first words"})
    with store.uow() as uow:
        uow.tickets.get(t.id).update(alice, title="New name", fields={"description": "second words"})
        uow.commit()
    assert _ids(store, text="old") == ([], 0) and _ids(store, text="first") == ([], 0)
    assert _ids(store, text="new name") == ([t.id], 1) and _ids(store, text="second") == ([t.id], 1)


def _record_results(store, ticket_id, task_id, results, step="Provision", name="Provision the request"):
    with store.uow() as uow:
        ticket = uow.tickets.get(ticket_id)
        recorded = ticket.record_results(task_id, step, name, results)
        uow.commit()
    return recorded


def test_a_ticket_keeps_the_results_of_its_automated_steps_and_is_found_by_their_text(store):
    t = add(store, title="Laptop", fields={"description": "for the new hire"}, submit=True)
    other = add(store, title="Monitor", submit=True)
    assert _record_results(store, t.id, "ext-1", {"fulfilment_reference": "PRV-4F2A91", "units": 2,
                                                  "shipped": True})
    with store.uow() as uow:
        got = uow.tickets.get(t.id)
    assert got.results == {"fulfilment_reference": "PRV-4F2A91", "units": 2, "shipped": True}
    assert got.fulfilment_reference == "PRV-4F2A91"
    entry = got.history[-1]
    assert entry.action == "step_results" and entry.actor == "system"
    assert entry.details == {"step": "Provision", "step_name": "Provision the request", "task_id": "ext-1",
                             "results": {"fulfilment_reference": "PRV-4F2A91", "units": 2, "shipped": True},
                             "reference": "PRV-4F2A91"}
    # case-insensitive substring, like the rest of the text; numbers and true/false are not text
    assert _ids(store, text="prv-4f2a") == ([t.id], 1)
    assert _ids(store, text="4F2A91") == ([t.id], 1)
    assert _ids(store, text="true") == ([], 0)
    assert _ids(store, text="prv-0000") == ([], 0)
    # reported again (a retried report, a second worker): recorded once
    assert not _record_results(store, t.id, "ext-1", {"fulfilment_reference": "PRV-4F2A91"})
    with store.uow() as uow:
        assert [h.action for h in uow.tickets.get(t.id).history].count("step_results") == 1
    # a later step's result of the same name replaces the earlier one, in search too
    assert _record_results(store, other.id, "ext-2", {"fulfilment_reference": "PRV-AAA"})
    assert _record_results(store, other.id, "ext-3", {"fulfilment_reference": "PRV-BBB", "note": "rack 4"})
    with store.uow() as uow:
        assert uow.tickets.get(other.id).results == {"fulfilment_reference": "PRV-BBB", "note": "rack 4"}
    assert _ids(store, text="prv-aaa") == ([], 0)
    assert _ids(store, text="prv-bbb") == ([other.id], 1) and _ids(store, text="RACK") == ([other.id], 1)
    assert _ids(store, text="prv-") == ([other.id, t.id], 2)


def test_recording_results_on_a_ticket_written_meanwhile_is_refused(store):
    t = add(store, submit=True)
    with store.uow() as uow:
        read = uow.tickets.get(t.id)
    follow(store, t.id, step("task-9", groups=("managers",)))  # someone else wrote it since
    with pytest.raises(ConcurrencyConflict):
        with store.uow() as uow:
            ticket = uow.tickets.attach(read)
            ticket.record_results("ext-1", "Provision", None, {"fulfilment_reference": "PRV-1"})
            uow.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).results == {}
    assert _ids(store, text="prv-1") == ([], 0)


def test_the_inbox_finds_a_step_by_its_tickets_results(store):
    t = _ticket_with(store, step("task-r", groups=("managers",)), title="Laptop")
    _ticket_with(store, step("task-s", groups=("managers",)), title="Monitor")
    _record_results(store, t.id, "ext-1", {"fulfilment_reference": "PRV-INBOX"})
    assert task_ids(inbox(store, bob, text="prv-inbox")) == ["task-r"]


def test_bad_queries_are_refused():
    with pytest.raises(ValidationError) as err:
        TicketQuery(status="lost", page=0, page_size=1000, sort="colour", text="x" * 201)
    assert set(err.value.details) == {"status", "page", "page_size", "sort", "q"}
    with pytest.raises(ValidationError) as err:
        TicketQuery(statuses=("pending_approval",))
    assert set(err.value.details) == {"status"}
    with pytest.raises(ValidationError) as err:
        TaskQuery(username="bob", page=0, page_size=0, sort="title", text="x" * 201, ticket_status="approved")
    assert set(err.value.details) == {"page", "page_size", "sort", "q", "ticket_status"}


# --- the inbox -----------------------------------------------------------------------------------

def _ticket_with(store, *steps, requester=alice, title="Laptop", type_key="it_request", fields=None, minutes=0):
    t = add(store, requester=requester, title=title, type_key=type_key, fields=fields,
            created=T0 + timedelta(minutes=minutes), submit=True)
    follow(store, t.id, *steps)
    return t


def test_a_step_is_offered_to_its_assignee_else_candidate_users_and_groups(store):
    _ticket_with(store, step("g", groups=("managers",), minutes=1), step("u", users=("bob",), minutes=2),
                 step("a", assignee="bob", groups=("finance",), minutes=3),
                 step("other", assignee="carol", groups=("managers",), users=("bob",), minutes=4),
                 step("none", groups=("security",), minutes=5))
    assert task_ids(inbox(store, bob)) == ["g", "u", "a"]  # not carol's step, even as a candidate
    assert task_ids(inbox(store, fay)) == []  # an assigned step is the assignee's only
    assert task_ids(inbox(store, User("carol"))) == ["other"]
    assert task_ids(inbox(store, User("sam", groups=frozenset({"security", "managers"})))) == ["g", "none"]
    page = inbox(store, bob)
    assert page.total == 3 and page.items[0].ticket.title == "Laptop"
    assert page.items[0].step == step("g", groups=("managers",), minutes=1)
    assert page.items[0].ticket.steps[0].task_id == "g"


def test_separation_of_duties_and_four_eyes_leave_steps_out(store):
    bob_edited = _ticket_with(store, step("edited", groups=("managers",), minutes=1), minutes=1)
    with store.uow() as uow:
        ticket = uow.tickets.get(bob_edited.id)
        ticket.last_editor = "bob"
        uow.commit()
    _ticket_with(store, step("own", groups=("managers",), minutes=2), requester=bob, minutes=2)
    decided = _ticket_with(store, step("first", groups=("managers",), minutes=3), minutes=3)
    with store.uow() as uow:
        ticket = uow.tickets.get(decided.id)
        ticket.record_step(bob, ticket.steps[0], {"approved": True}, None)
        ticket.follow(Progress(running=True, steps=(step("second", groups=("managers", "finance"), minutes=3),
                                                    step("form", groups=("managers",), form=(NOTE,), minutes=4))))
        uow.commit()
    fresh = _ticket_with(store, step("fresh", groups=("managers",), minutes=5), minutes=4)
    assert task_ids(inbox(store, bob)) == ["form", "fresh"]  # not edited, own, nor a second decision
    assert task_ids(inbox(store, bob, separation_of_duties=False)) == ["edited", "own", "second", "form", "fresh"]
    assert task_ids(inbox(store, fay)) == ["second"]  # someone who has not decided yet
    assert inbox(store, bob, ticket_id=fresh.id).total == 1


def test_every_editor_of_a_ticket_is_left_out_of_its_decisions_not_only_the_last(store):
    edited = _ticket_with(store, step("edited", groups=("managers",), minutes=1), minutes=1)
    with store.uow() as uow:
        ticket = uow.tickets.get(edited.id)
        ticket.editors = ["bob", "max"]
        ticket.last_editor = "max"
        uow.commit()
    with store.uow() as uow:
        assert uow.tickets.get(edited.id).editors == ["bob", "max"]
    fresh = _ticket_with(store, step("fresh", groups=("managers",), minutes=2), minutes=2)
    assert task_ids(inbox(store, bob)) == ["fresh"]  # an earlier editor, not the last
    assert task_ids(inbox(store, User("max", groups=frozenset({"managers"})))) == ["fresh"]
    assert task_ids(inbox(store, bob, separation_of_duties=False)) == ["edited", "fresh"]
    assert fresh.editors == []


def test_inbox_filters(store):
    a = _ticket_with(store, step("a1", key="ManagerApproval", groups=("managers",)), title="Laptop", minutes=1)
    b = _ticket_with(store, step("b1", key="FinanceApproval", name="Finance approval", groups=("finance", "managers")),
                     type_key="purchase_request", title="Chair", fields={"vendor": "ACME"}, minutes=2)
    c = _ticket_with(store, step("c1", key="Security", name="Security review", users=("bob",)),
                     type_key="access_request", title="Wiki", minutes=3)
    with store.uow() as uow:
        stuck = uow.tickets.get(c.id)
        stuck.follow(Progress(running=True, steps=tuple(stuck.steps), incident="boom"))
        uow.commit()
    assert task_ids(inbox(store, bob)) == ["a1", "b1", "c1"]
    assert task_ids(inbox(store, bob, type="purchase_request")) == ["b1"]
    assert task_ids(inbox(store, bob, group="managers")) == ["a1", "b1"]
    assert task_ids(inbox(store, bob, group="finance")) == ["b1"]  # offered to finance, bob sees it as a manager
    assert task_ids(inbox(store, bob, step="Security")) == ["c1"]
    assert task_ids(inbox(store, bob, ticket_status="needs_attention")) == ["c1"]
    assert task_ids(inbox(store, bob, ticket_status="in_progress")) == ["a1", "b1"]
    assert task_ids(inbox(store, bob, ticket_id=b.id)) == ["b1"]
    assert task_ids(inbox(store, bob, text="acme")) == ["b1"]  # a string field
    assert task_ids(inbox(store, bob, text="LAPTOP")) == ["a1"]
    assert task_ids(inbox(store, bob, text="security rev")) == ["c1"]  # the step's name
    assert task_ids(inbox(store, bob, text="#" + a.id[:8])) == ["a1"]
    assert inbox(store, bob, text="nothing").total == 0


def test_inbox_sorts_and_pages_with_a_total(store):
    due = [T0 + timedelta(days=d) for d in (3, 1, 2)]
    for i in range(3):
        _ticket_with(store, step(f"s{i}", groups=("managers",), minutes=i, due=due[i]), minutes=i)
    _ticket_with(store, step("s3", groups=("managers",), minutes=3), minutes=3)  # no due date: listed last
    assert task_ids(inbox(store, bob)) == ["s0", "s1", "s2", "s3"]
    assert task_ids(inbox(store, bob, sort="-created")) == ["s3", "s2", "s1", "s0"]
    assert task_ids(inbox(store, bob, sort="due")) == ["s1", "s2", "s0", "s3"]
    assert task_ids(inbox(store, bob, sort="-due")) == ["s0", "s2", "s1", "s3"]
    page = inbox(store, bob, page=2, page_size=3)
    assert (task_ids(page), page.total, page.page, page.page_size) == (["s3"], 4, 2, 3)
    assert inbox(store, bob, page=3, page_size=3).items == [] and inbox(store, bob, page=3, page_size=3).total == 4


def test_inbox_rows_follow_the_steps_and_the_end(store):
    t = _ticket_with(store, step("m", groups=("managers",)))
    follow(store, t.id, step("f", key="FinanceApproval", groups=("finance",)))
    assert inbox(store, bob).total == 0 and task_ids(inbox(store, fay)) == ["f"]
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.find_by_task("m")
    follow(store, t.id, running=False, outcome="completed")
    assert inbox(store, fay).total == 0
    with store.uow() as uow, pytest.raises(NotFound):
        uow.tickets.find_by_task("f")


def test_find_by_task_gives_the_ticket_to_change(store, commits):
    t = _ticket_with(store, step("m", groups=("managers",)), step("s", key="Security", groups=("security",)))
    with store.uow() as uow:
        ticket = uow.tickets.find_by_task("s")
        assert ticket.id == t.id and ticket.step("s").definition_key == "Security"
        assert [h.action for h in ticket.history] == ["created", "submitted"]
        ticket.record_step(bob, ticket.step("m"), {"approved": False}, "no budget")
        uow.commit()
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
        assert list(again.deciders) == ["bob"] and again.version == 3
        assert uow.outbox.pending(100)[-1].routing_key == "task.completed"  # its events were committed



# --- attach: going on with a ticket read by an earlier unit of work ------------------------------

def _read(store, ticket_id):
    with store.uow() as uow:
        return uow.tickets.get(ticket_id)


def test_an_attached_ticket_is_stored_with_its_events_and_inbox_rows(store, commits):
    t = _ticket_with(store, step("m", groups=("managers",)))
    read = _read(store, t.id)
    version = read.version
    with store.uow() as uow:
        ticket = uow.tickets.attach(read)
        ticket.record_step(bob, ticket.step("m"), {"approved": True}, "ok")
        ticket.follow(Progress(running=True, steps=(step("f", key="Finance", groups=("finance",)),)))
        uow.commit()
    with store.uow() as uow:
        stored = uow.tickets.get(t.id)
        events = [m.routing_key for m in uow.outbox.pending(100)]
    assert stored.version == ticket.version == version + 1 and list(stored.deciders) == ["bob"]
    assert [h.action for h in stored.history][-1] == "step_completed"
    assert events[-2:] == ["task.completed", "task.created"]
    assert task_ids(inbox(store, fay)) == ["f"] and inbox(store, bob).total == 0
    # what a commit returned can be attached again by the next unit of work
    with store.uow() as uow:
        uow.tickets.attach(ticket).note(bob, "commented", {})
        uow.commit()
    assert _read(store, t.id).version == version + 2


def test_an_attached_ticket_someone_changed_since_is_refused_and_writes_nothing(store):
    t = _ticket_with(store, step("m", groups=("managers",)))
    read = _read(store, t.id)
    follow(store, t.id, step("m2", groups=("managers",)))  # someone else moved it on meanwhile
    with store.uow() as uow:
        with pytest.raises(ConcurrencyConflict):
            ticket = uow.tickets.attach(read)
            ticket.record_step(bob, ticket.step("m"), {"approved": True}, "ok")
            ticket.follow(Progress(running=True, steps=(step("f", key="Finance", groups=("finance",)),)))
            uow.commit()
    stored = _read(store, t.id)
    assert [s.task_id for s in stored.steps] == ["m2"] and list(stored.deciders) == []
    with store.uow() as uow:
        assert "task.completed" not in [m.routing_key for m in uow.outbox.pending(100)]
    assert inbox(store, fay).total == 0 and task_ids(inbox(store, bob)) == ["m2"]


def test_an_attached_ticket_deleted_since_is_a_conflict(store):
    t = add(store)
    read = _read(store, t.id)
    with store.uow() as uow:
        uow.tickets.delete(uow.tickets.get(t.id))
        uow.commit()
    with store.uow() as uow:
        with pytest.raises(ConcurrencyConflict):
            uow.tickets.attach(read).update(alice, title="gone")
            uow.commit()
    with store.uow() as uow:
        with pytest.raises(NotFound):
            uow.tickets.get(t.id)


def test_attaching_a_ticket_this_unit_of_work_read_already_gives_one_to_change(store):
    t = add(store)
    read = _read(store, t.id)
    with store.uow() as uow:
        uow.tickets.get(t.id)
        uow.tickets.attach(read).update(alice, title="Desk")
        uow.commit()
    assert _read(store, t.id).title == "Desk"


def test_threads_attaching_one_read_ticket_at_once_one_wins(store):
    t = _ticket_with(store, step("m", groups=("managers",)))
    read = [_read(store, t.id) for _ in range(6)]  # each thread goes on from its own earlier read

    def decide(i, uow):
        ticket = uow.tickets.attach(read[i])
        ticket.record_step(User(f"m{i}", groups=frozenset({"managers"})), ticket.step("m"), {"approved": True}, None)
        ticket.follow(Progress(running=True, steps=(step(f"f-{i}", key="Finance", groups=("finance",)),)))

    winner = _race(store, 6, decide)
    stored = _read(store, t.id)
    assert list(stored.deciders) == [f"m{winner}"] and [s.task_id for s in stored.steps] == [f"f-{winner}"]
    assert task_ids(inbox(store, fay)) == [f"f-{winner}"]


# --- delete ---------------------------------------------------------------------------------------

def test_delete_removes_the_ticket_its_history_and_steps(store):
    keep = _ticket_with(store, step("k", groups=("managers",)), minutes=1)
    gone = _ticket_with(store, step("g", groups=("managers",)), minutes=2)
    with store.uow() as uow:
        uow.tickets.delete(uow.tickets.get(gone.id))
        uow.commit()
    with store.uow() as uow:
        with pytest.raises(NotFound):
            uow.tickets.get(gone.id)
        with pytest.raises(NotFound):
            uow.tickets.find_by_task("g")
        assert uow.tickets.get(keep.id).history[0].action == "created"
    assert _ids(store) == ([keep.id], 1)
    assert task_ids(inbox(store, bob)) == ["k"]
    if hasattr(store, "engine"):  # nothing of it is left in any table
        from sqlalchemy import text

        with store.engine.connect() as c:
            for table in ("ticket_history", "ticket_steps", "ticket_deciders"):
                assert c.execute(text(f"SELECT count(*) FROM {table} WHERE ticket_id = :i"), {"i": gone.id}).scalar() == 0
            assert c.execute(text("SELECT count(*) FROM ticket_step_candidates WHERE task_id = 'g'")).scalar() == 0


def test_delete_without_commit_keeps_the_ticket_and_a_new_one_is_just_forgotten(store):
    t = add(store)
    with store.uow() as uow:
        uow.tickets.delete(uow.tickets.get(t.id))
    fresh = Ticket.create(alice, "it_request", "never stored", {})
    with store.uow() as uow:
        uow.tickets.add(fresh)
        uow.tickets.delete(fresh)
        uow.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).title == "Laptop"
        with pytest.raises(NotFound):
            uow.tickets.get(fresh.id)


def test_deleting_a_ticket_someone_changed_meanwhile_is_refused(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        a = first.tickets.get(t.id)
        b = second.tickets.get(t.id)
        a.update(alice, title="changed")
        first.commit()
        second.tickets.delete(b)
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with store.uow() as uow:
        assert uow.tickets.get(t.id).title == "changed"


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
    t = _ticket_with(store, step("m", groups=("managers",)))
    with store.uow() as uow:
        listed = uow.tickets.list(TicketQuery()).items
    items = inbox(store, bob).items
    assert (listed[0].id, listed[0].status, listed[0].steps[0].task_id) == (t.id, t.status, "m")
    assert items[0].ticket.id == t.id and items[0].ticket.requester == t.requester
    assert items[0].ticket.steps[0].task_id == "m" and items[0].ticket.fields == {"priority": "normal"}
    with store.uow() as uow:  # pages come without histories; get in the same unit of work reads it
        uow.tickets.list(TicketQuery())
        assert [h.action for h in uow.tickets.get(t.id).history] == ["created", "submitted"]


def test_a_failed_commit_leaves_the_changed_ticket_readable(store):
    t = add(store)
    first, second = store.uow(), store.uow()
    with first, second:
        a = first.tickets.get(t.id)
        b = second.tickets.get(t.id)
        a.submit(alice)
        b.update(alice, title="changed meanwhile", fields={"priority": "high"})
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
        assert (b.id, b.title, b.fields, len(b.history)) == (
            t.id, "changed meanwhile", {"priority": "high"}, 2)  # e.g. for compensation
    assert b.title == "changed meanwhile"


def test_after_a_failed_commit_a_retry_on_fresh_state_stores_in_place_changes(store):
    t = add(store, submit=True)
    first, second = store.uow(), store.uow()
    with first, second:
        first.tickets.get(t.id).note(alice, "noted")
        b = second.tickets.get(t.id)
        b.deciders.append("bob")
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
        assert list(b.deciders) == ["bob"]
    with store.uow() as uow:
        again = uow.tickets.get(t.id)
        assert list(again.deciders) == []  # the refused change was not stored
        again.deciders.append("carol")
        uow.commit()
    with store.uow() as uow:
        assert list(uow.tickets.get(t.id).deciders) == ["carol"]


def test_the_relay_lock_is_free_when_nobody_relays(store):
    with store.uow() as uow:
        assert uow.outbox.try_lock_relay() is True


# --- substitutes ------------------------------------------------------------------------------------

def test_a_substitution_is_stored_replaced_and_removed_on_commit(store):
    from pflow.domain.substitutes import Substitution

    now = datetime.now(timezone.utc)
    away = Substitution.name("bob", "fay", now - timedelta(hours=1), now + timedelta(days=2), now)
    with store.uow() as uow:
        uow.substitutes.put(away)  # not committed
    with store.uow() as uow:
        assert uow.substitutes.get("bob") is None
        uow.substitutes.put(away)
        uow.commit()
    with store.uow() as uow:
        assert uow.substitutes.get("bob") == away
        assert [s.user for s in uow.substitutes.standing_in_for("fay", now)] == ["bob"]
        assert uow.substitutes.standing_in_for("fay", now + timedelta(days=3)) == []  # over
        assert uow.substitutes.standing_in_for("fay", now - timedelta(hours=2)) == []  # not yet
        assert uow.substitutes.standing_in_for("bob", now) == []
        later = Substitution.name("bob", "erin", now + timedelta(days=1), now + timedelta(days=3), now)
        uow.substitutes.put(later)  # one per user: replaces
        uow.commit()
    with store.uow() as uow:
        assert uow.substitutes.get("bob").substitute == "erin"
        assert uow.substitutes.standing_in_for("fay", now) == []
        assert uow.substitutes.remove("bob") and not uow.substitutes.remove("nobody")
        uow.commit()
    with store.uow() as uow:
        assert uow.substitutes.get("bob") is None


def test_a_substitute_sees_the_steps_of_whom_they_stand_in_for_under_both_their_duties(store):
    from pflow.ports.repository import Principal

    _ticket_with(store, step("managers", groups=("managers",), minutes=1), minutes=1)
    _ticket_with(store, step("bobs-own", groups=("managers",), minutes=2), requester=bob, minutes=2)
    _ticket_with(store, step("fays-own", groups=("managers",), minutes=3), requester=fay, minutes=3)
    _ticket_with(store, step("claimed", groups=("managers",), assignee="max", minutes=4), minutes=4)
    assert task_ids(inbox(store, fay)) == []
    as_bob = (Principal("bob", ("managers",)),)
    # fay stands in for bob: his group's steps, but neither his own ticket's nor hers; not a step max holds
    assert task_ids(inbox(store, fay, on_behalf_of=as_bob)) == ["managers"]
    assert task_ids(inbox(store, fay, on_behalf_of=as_bob, separation_of_duties=False)) == [
        "managers", "bobs-own", "fays-own"]
    assert task_ids(inbox(store, fay, on_behalf_of=(Principal("max"),))) == ["claimed"]
