"""Time in approvals: due times from the BPMN or the ticket type, the overdue filter, the SLA figure, and the
reminders the scanner sends (on a clock the tests move: nothing sleeps)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from pflow.adapters.catalog import CatalogError, FileTicketTypeCatalog
from pflow.domain.durations import add_duration, check_duration, subtract_duration
from pflow.domain.events import check_message
from pflow.ports.repository import OVERDUE, REMINDER, TaskQuery
from pflow.service.reminders import TaskReminderScanner
from tests.support import TEST_USERS, build_stack

alice, bob, fiona, pat, carol = (TEST_USERS.get(n) for n in ("alice", "bob", "fiona", "pat", "carol"))


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def purchase(svc, amount=5000, requester=alice):
    t = svc.create(requester, {"type": "purchase_request", "title": "Chairs",
                               "fields": {"amount": amount, "supplier": "ACME"}})
    return svc.submit(requester, t.id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta) -> None:
        self.now += timedelta(**delta)


def scanner(stack, clock, **options):
    return TaskReminderScanner(stack.container.uow, remind_before=options.pop("remind_before", "PT4H"),
                               clock=clock, **options)


def outbox_events(stack, kind):
    with stack.container.uow() as uow:
        return [m.body for m in uow.outbox.pending(1000) if m.body["type"] == kind]


# ------------------------------------------------------------------ durations

def test_durations_are_read_as_iso_8601():
    start = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
    assert add_duration(start, "PT48H") == start + timedelta(hours=48)
    assert add_duration(start, "P1M") == datetime(2026, 2, 28, 12, tzinfo=timezone.utc)  # a calendar month
    assert add_duration(start, "P1DT30M") == start + timedelta(days=1, minutes=30)
    assert subtract_duration(start, "PT4H") == start - timedelta(hours=4)
    for bad in ("48h", "P", "PT", "P1DT", "", "1 day", None):
        with pytest.raises(ValueError, match="ISO 8601 duration"):
            check_duration(bad)


# ------------------------------------------------------------------ type defaults

def _catalog(tmp_path, extra: str):
    from tests.support import test_workflows

    folder = test_workflows(tmp_path / "wf")
    path = folder / "purchase-request.type.yaml"
    text = path.read_text(encoding="utf-8")
    head, _, form = text.partition("form:")
    head = "\n".join(line for line in head.splitlines() if not line.startswith(("due:", "steps:", "  FinanceApproval")))
    path.write_text(head + "\n" + extra + "\nform:" + form, encoding="utf-8")
    return FileTicketTypeCatalog.from_folder(folder)


def test_a_type_gives_a_default_due_time_and_one_per_step(tmp_path):
    catalog = _catalog(tmp_path, "due: PT48H\nsteps:\n  FinanceApproval: {due: P3D}")
    purchase_type = catalog.get("purchase_request")
    assert purchase_type.default_due("ManagerApproval") == "PT48H"
    assert purchase_type.default_due("FinanceApproval") == "P3D"
    assert catalog.get("it_request").default_due("ManagerApproval") is None


@pytest.mark.parametrize("extra, named", [
    ("due: 48h", "due: '48h' is not an ISO 8601 duration"),
    ("steps:\n  FinanceApproval: {due: soon}", "steps.FinanceApproval.due: 'soon' is not an ISO 8601 duration"),
    ("steps:\n  Nowhere: {due: P1D}", "steps.Nowhere: process 'purchase_request' has no user task 'Nowhere'"),
    ("steps:\n  FinanceApproval: {late: P1D}", "steps.FinanceApproval"),
])
def test_a_bad_due_default_stops_the_catalog_naming_the_field(tmp_path, extra, named):
    with pytest.raises(CatalogError) as caught:
        _catalog(tmp_path, extra)
    assert named in str(caught.value) and "purchase-request.type.yaml" in str(caught.value)


def test_the_types_default_is_set_on_a_step_without_a_due_date_once(stack):
    t = purchase(stack.tickets)
    (step,) = t.steps
    assert step.due == step.created_at + timedelta(hours=48)
    # set in the engine, so every later read has it from there
    assert stack.engine.task(step.task_id).due == step.due
    again = stack.tickets.sync(t.id)
    assert again.steps[0].due == step.due
    finance = stack.tickets.approve(bob, t.id)
    (step,) = finance.steps
    assert step.definition_key == "FinanceApproval" and step.due == step.created_at + timedelta(days=3)
    done = stack.tickets.approve(fiona, t.id)
    entry = [h for h in done.history if h.action == "step_completed"][-1]
    assert entry.details["due"] == step.due.isoformat()  # what the SLA is computed from


def test_a_due_date_in_the_bpmn_wins_over_the_types_default(stack):
    t = stack.tickets.create(alice, {"type": "contract_review", "title": "NDA", "fields": {"counterparty": "ACME"}})
    t = stack.tickets.submit(alice, t.id)
    (legal,) = t.steps
    assert legal.due == legal.created_at + timedelta(days=1)  # camunda:dueDate="P1D", not the type's PT8H
    t = stack.tickets.complete_task(pat, legal.task_id, {"legal_ok": True})
    (confirm,) = t.steps
    assert confirm.definition_key == "ConfirmReceipt" and confirm.due == confirm.created_at + timedelta(hours=8)


def test_a_type_without_defaults_leaves_steps_without_due(stack):
    t = stack.tickets.submit(alice, stack.tickets.create(alice, {"title": "Laptop"}).id)
    assert [s.due for s in t.steps] == [None]


# ------------------------------------------------------------------ overdue filter and SLA

def test_the_inbox_filters_overdue_steps(stack):
    t = purchase(stack.tickets)
    purchase(stack.tickets, amount=10)
    due = t.steps[0].due
    ids = lambda **q: [i.ticket.id for i in stack.tickets.tasks(bob, TaskQuery(username="bob", groups=("managers",),
                                                                              **q)).items]
    assert ids(overdue=True, at=due - timedelta(seconds=1)) == []
    assert len(ids(overdue=False, at=due - timedelta(seconds=1))) == 2
    assert len(ids(overdue=True, at=due + timedelta(hours=1))) == 2
    assert ids(overdue=False, at=due + timedelta(hours=1)) == []
    assert len(ids()) == 2


def test_the_dashboard_counts_steps_done_in_time_and_open_ones_overdue(stack):
    oversight = stack.container.oversight()
    done = purchase(stack.tickets, amount=10)
    stack.tickets.approve(bob, done.id)  # well before its due time
    waiting = purchase(stack.tickets, amount=20)
    sla = oversight.stats(carol)["sla"]
    assert sla["by_type"] == [{"type": "purchase_request", "with_due": 1, "on_time": 1, "share": 1.0,
                               "open_overdue": 0}]
    later = waiting.steps[0].due + timedelta(minutes=1)
    sla = oversight.stats(carol, now=later)["sla"]
    assert sla["open_overdue"] == 1 and sla["by_type"][0]["open_overdue"] == 1
    assert (sla["with_due"], sla["on_time"], sla["share"]) == (1, 1, 1.0)


# ------------------------------------------------------------------ reminders

def test_reminders_go_out_before_and_at_the_due_time_once_each(stack):
    t = purchase(stack.tickets)
    (step,) = t.steps
    clock = Clock()
    scan = scanner(stack, clock)
    clock.now = step.due - timedelta(hours=5)
    assert scan.run_once() == []
    clock.now = step.due - timedelta(hours=3)
    assert scan.run_once() == [(step.task_id, REMINDER)]
    assert scan.run_once() == []  # once
    clock.now = step.due
    assert scan.run_once() == [(step.task_id, OVERDUE)]
    clock.move(days=3)
    assert scan.run_once() == []
    (reminder,) = outbox_events(stack, "task.reminder")
    (overdue,) = outbox_events(stack, "task.overdue")
    for body in (reminder, overdue):
        check_message(body)  # the event contract (docs/events.md)
        assert body["data"]["task"]["id"] == step.task_id and body["data"]["task"]["due"] == step.due.isoformat()
        assert body["actor"] == "system" and body["data"]["title"] == "Chairs"


def test_a_step_past_its_due_time_when_first_seen_gets_only_the_overdue_notice(stack):
    t = purchase(stack.tickets)
    clock = Clock()
    clock.now = t.steps[0].due + timedelta(days=1)  # the scanner was down
    assert scanner(stack, clock).run_once() == [(t.steps[0].task_id, OVERDUE)]
    assert outbox_events(stack, "task.reminder") == []


def test_a_completed_step_is_not_reminded_of(stack):
    t = purchase(stack.tickets, amount=10)
    due = t.steps[0].due
    stack.tickets.approve(bob, t.id)
    clock = Clock()
    clock.now = due + timedelta(hours=1)
    assert scanner(stack, clock).run_once() == []


def test_the_people_who_may_act_are_notified(stack):
    t = purchase(stack.tickets)
    clock = Clock()
    clock.now = t.steps[0].due - timedelta(hours=1)
    scanner(stack, clock).run_once()
    stack.deliver_events()
    notes = stack.container.notifications()
    bobs = [n for n in notes.list(bob).items if n.kind == "task.reminder"]
    assert len(bobs) == 1 and bobs[0].ticket_id == t.id
    assert bobs[0].params["step"] == "Manager Approval" and bobs[0].params["due"] == t.steps[0].due.isoformat()
    assert "is due" in bobs[0].message
    assert [n for n in notes.list(alice).items if n.kind == "task.reminder"] == []  # the requester acts on nothing
    clock.now = t.steps[0].due
    scanner(stack, clock).run_once()
    stack.deliver_events()
    (overdue,) = [n for n in notes.list(bob).items if n.kind == "task.overdue"]
    assert "is overdue" in overdue.message


def test_a_scanner_sends_in_batches_until_all_are_sent(stack):
    tickets = [purchase(stack.tickets, amount=10 + i) for i in range(5)]
    clock = Clock()
    clock.now = max(t.steps[0].due for t in tickets)
    sent = scanner(stack, clock, batch=2).run_once()
    assert sorted(task for task, _ in sent) == sorted(t.steps[0].task_id for t in tickets)
    assert {kind for _, kind in sent} == {OVERDUE}


@pytest.fixture(params=["memory", "sqlite", "embedded", pytest.param("postgres", marks=pytest.mark.integration)])
def any_store(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def test_two_scanners_at_once_send_each_reminder_once(any_store):
    """Two processes scanning at the same moment (here two threads with their own units of work): each reminder
    is committed by one of them; the other's commit is refused by the record's key and it moves on."""
    stack = any_store
    tickets = [purchase(stack.tickets, amount=10 + i) for i in range(6)]
    clock = Clock()
    clock.now = max(t.steps[0].due for t in tickets) - timedelta(hours=1)
    scanners = [scanner(stack, clock, batch=2) for _ in range(2)]
    results: list[list] = [[], []]
    refused: list[int] = [0, 0]
    barrier = threading.Barrier(2)

    def racing(i, send):
        first = [True]

        def _send(due, kind, now):
            if first[0]:  # both have read the same steps before either sends one
                first[0] = False
                barrier.wait(10)
            ok = send(due, kind, now)
            refused[i] += not ok
            return ok
        return _send

    for i, one in enumerate(scanners):
        one._send = racing(i, one._send)

    def run(i):
        results[i] = scanners[i].run_once()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sent = results[0] + results[1]
    assert len(sent) == len(set(sent)) == 6
    assert sum(refused) >= 1  # they did race for the same reminder
    assert len(outbox_events(stack, "task.reminder")) == 6


def test_serve_and_worker_run_the_scanner_in_the_background(tmp_path):
    """Where the worker runs (pflow serve, pflow worker), the scanner runs too, every PFLOW_REMINDER_INTERVAL_S."""
    from dependency_injector import providers

    from pflow.entrypoints.runtime import BackgroundServices
    from tests.support import wait_until

    stack = build_stack("memory", tmp_path, reminder_interval_s=1)
    try:
        t = purchase(stack.tickets)
        stack.container.clock.override(providers.Object(lambda: t.steps[0].due + timedelta(minutes=1)))
        services = BackgroundServices(stack.container, worker=True, relay=False)
        assert services.reminders is not None and services.reminders.active
        services.start()
        try:
            wait_until(lambda: outbox_events(stack, "task.overdue"), timeout=10,
                       message="the background scanner sent no overdue notice")
        finally:
            services.stop(timeout=10)
        assert [b["data"]["task"]["id"] for b in outbox_events(stack, "task.overdue")] == [t.steps[0].task_id]
    finally:
        stack.container.clock.reset_override()
        stack.close()


def test_serve_reconciles_without_its_worker(tmp_path):
    """`pflow serve` with PFLOW_SERVE_WORKER=0 (its default on Camunda and Operaton) still runs the reconciler, so a
    ticket follows steps that workers other than PFlow's did; a process that asks for nothing runs none."""
    from pflow.entrypoints.runtime import BackgroundServices

    stack = build_stack("memory", tmp_path)
    assert BackgroundServices(stack.container, worker=False, relay=False, reconcile=True).reconciler is not None
    assert BackgroundServices(stack.container, worker=False, relay=False).reconciler is None
    assert BackgroundServices(stack.container, worker=True, relay=False).reconciler is not None
