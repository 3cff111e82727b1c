"""Reconciliation: whatever way a ticket and its process instance came apart, the ticket ends in a
state that offers its next action, and decisions that did not pass PFlow's checks are never applied.

Runs on the in-memory stack, on SQLite (ORM attribute expiry on failed commits) and on the embedded
engine, so the service's coordination is checked against real transactions too."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from pflow.domain.errors import ConcurrencyConflict, InvalidTransition, ServiceUnavailable
from pflow.domain.model import TicketStatus
from pflow.ports.workflow import APPROVAL_TASK, PROVISIONING_TOPIC, InstanceState
from pflow.service.reconciler import Reconciler
from tests.support import TEST_USERS, build_stack

alice, bob, dave, carol = (TEST_USERS.get(n) for n in ("alice", "bob", "dave", "carol"))


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    s.tickets.decision_commit_grace_s = 0.2
    yield s
    s.close()


def submitted(svc, requester=alice, title="Laptop"):
    return svc.submit(requester, svc.create(requester, {"title": title}).id)


def fail_commits(stack, monkeypatch, count=1):
    """The next ``count`` unit-of-work commits fail as if the database went away."""
    uow_class = type(stack.container.uow())
    original = uow_class._commit
    left = {"n": count}

    def failing(self):
        if left["n"] > 0:
            left["n"] -= 1
            raise ServiceUnavailable("database", "the database went away")
        return original(self)

    monkeypatch.setattr(uow_class, "_commit", failing)


def forge_decision(engine, ticket_id, approver, approved=True):
    """A decision made in the engine directly (e.g. over its REST API), not through PFlow."""
    task = engine.find_user_task(ticket_id, APPROVAL_TASK)
    engine.complete_user_task(task.id, {"approved": approved, "comment": "", "approver": approver},
                              assignee=approver)


def exhaust_provisioning(engine, ticket_id, message="provisioner down"):
    """The automated step fails its last attempt in the engine (an incident), unrecorded on the ticket."""
    tasks = engine.fetch_and_lock("someone-else", [PROVISIONING_TOPIC], business_key=ticket_id)
    assert tasks, "the provisioning task should be open"
    engine.handle_external_task_failure(tasks[0].id, "someone-else", message, retries=0, retry_timeout_ms=0)


def test_a_ticket_that_agrees_with_its_instance_is_left_alone(stack):
    t = submitted(stack.tickets)
    assert stack.tickets.reconcile(t.id).version == t.version


def test_a_draft_whose_submission_was_lost_has_its_instance_cancelled(stack):
    t = stack.tickets.create(alice, {"title": "Laptop"})
    stack.engine.start_process(t.id, {"ticket_id": t.id})  # submit's commit and its compensation both failed
    healed = stack.tickets.reconcile(t.id)
    assert healed.status == TicketStatus.DRAFT
    assert stack.engine.process_state(t.id).state == InstanceState.TERMINATED
    assert stack.tickets.submit(alice, t.id).status == TicketStatus.PENDING_APPROVAL


def test_a_pending_ticket_without_a_running_instance_gets_its_approval_back(stack):
    t = submitted(stack.tickets)
    stack.engine.cancel_process(t.id, "lost")
    healed = stack.tickets.reconcile(t.id)
    assert healed.status == TicketStatus.PENDING_APPROVAL and healed.history[-1].action == "process_restarted"
    assert "approve" in stack.tickets.allowed_actions(bob, healed)
    assert stack.tickets.approve(bob, t.id).status == TicketStatus.APPROVED


@pytest.mark.parametrize("requester, decider, reason", [
    ("dave", "dave", "separation_of_duties"), ("alice", "erin", "not_a_decider"),
    ("alice", "mallory", "unknown_decider"), ("alice", "", "unknown_decider")])
def test_a_decision_made_in_the_engine_that_breaks_the_rules_is_refused(stack, requester, decider, reason):
    t = submitted(stack.tickets, requester=TEST_USERS.get(requester))
    forge_decision(stack.engine, t.id, decider)
    healed = stack.tickets.reconcile(t.id)
    assert healed.status == TicketStatus.PENDING_APPROVAL and healed.approver is None
    note = healed.history[-1]
    assert note.action == "engine_decision_refused" and note.details["reason"] == reason
    # The approval starts over: a real manager decides, and the forged decision left no trace on the outcome.
    assert stack.engine.find_user_task(t.id, APPROVAL_TASK) is not None
    approved = stack.tickets.approve(bob, t.id)
    assert approved.status == TicketStatus.APPROVED and approved.approver == "bob"


def test_a_forged_decision_is_refused_when_the_worker_finds_it_too(stack):
    t = submitted(stack.tickets)
    forge_decision(stack.engine, t.id, "erin")
    stack.worker().run_once()
    ticket = stack.tickets.get(carol, t.id)
    assert ticket.status == TicketStatus.PENDING_APPROVAL and ticket.approver is None


def test_a_lost_approval_then_an_unrecorded_incident_ends_in_a_retryable_failure(stack, monkeypatch):
    """The stranded ticket of a database outage: the approval's commit failed after the engine took it,
    then the automated step used up its retries while its failure could not be recorded."""
    t = submitted(stack.tickets)
    fail_commits(stack, monkeypatch)
    with pytest.raises(ServiceUnavailable):
        stack.tickets.approve(bob, t.id, "ok")
    exhaust_provisioning(stack.engine, t.id)
    healed = stack.tickets.reconcile(t.id)
    assert healed.status == TicketStatus.PROVISIONING_FAILED
    assert [h.action for h in healed.history][-2:] == ["approved", "provisioning_failed"]
    assert healed.history[-2].actor == "bob" and healed.history[-2].comment == "ok"
    assert stack.tickets.allowed_actions(carol, healed) == ["retry_provisioning"]
    retried = stack.tickets.retry_provisioning(carol, t.id)
    assert retried.status == TicketStatus.APPROVED
    stack.worker().run_once()
    assert stack.tickets.get(carol, t.id).status == TicketStatus.COMPLETED


def test_a_failure_recorded_while_the_engine_provisions_again_follows_the_engine(stack, monkeypatch):
    t = submitted(stack.tickets)
    stack.tickets.approve(bob, t.id)
    exhaust_provisioning(stack.engine, t.id)
    stack.tickets.reconcile(t.id)
    # The admin's retry reached the engine, but its ticket commit was lost.
    task = [x for x in stack.engine.find_external_tasks(t.id) if x.retries == 0][0]
    stack.engine.set_external_task_retries(task.id, 3)
    healed = stack.tickets.reconcile(t.id)
    assert healed.status == TicketStatus.APPROVED and healed.history[-1].action == "provisioning_retried"
    stack.worker().run_once()
    assert stack.tickets.get(carol, t.id).status == TicketStatus.COMPLETED


def test_the_worker_woken_by_an_approval_does_not_race_its_commit(stack):
    """The engine wakes the worker as soon as the decision is in, before the approval's own commit: the
    worker must not spend a provisioning attempt on a conflict with it."""
    svc, engine = stack.tickets, stack.engine
    t = submitted(svc)
    complete = engine.complete_user_task
    results = {}

    def complete_then_worker_runs(*args, **kwargs):
        complete(*args, **kwargs)
        worker = threading.Thread(target=lambda: results.setdefault("ran", stack.worker().run_once()))
        worker.start()
        worker.join(0.1)  # the worker is now looking at the ticket; the approval commits after this

    engine.complete_user_task = complete_then_worker_runs
    approved = svc.approve(bob, t.id, "go")
    engine.complete_user_task = complete
    assert approved.approver == "bob"
    deadline = datetime.now(timezone.utc) + timedelta(seconds=10)
    while svc.get(carol, t.id).status != TicketStatus.COMPLETED and datetime.now(timezone.utc) < deadline:
        stack.worker().run_once()
    final = svc.get(carol, t.id)
    assert final.status == TicketStatus.COMPLETED
    assert "provisioning_failed" not in [h.action for h in final.history]
    # The approval was recorded by its own commit, not healed from the engine.
    approval = [h for h in final.history if h.action == "approved"][0]
    assert approval.details == {} and approval.comment == "go"


def test_deciding_never_opens_a_unit_of_work_inside_another(stack):
    """Nested units of work each hold a connection: under concurrent approvals they exhausted the pool."""
    open_now = threading.local()
    deepest = []
    factory = stack.tickets._uow

    class Counting:
        def __init__(self):
            self._inner = factory()

        def __enter__(self):
            open_now.n = getattr(open_now, "n", 0) + 1
            deepest.append(open_now.n)
            return self._inner.__enter__()

        def __exit__(self, *exc):
            open_now.n -= 1
            return self._inner.__exit__(*exc)

    stack.tickets._uow = Counting
    t = submitted(stack.tickets)
    forge_decision(stack.engine, t.id, "bob")  # bob's decision is in the engine; its commit was lost
    with pytest.raises(ConcurrencyConflict, match="already approved by bob"):
        stack.tickets.approve(dave, t.id)
    assert max(deepest) == 1


def test_a_periodic_pass_heals_stale_tickets_and_leaves_fresh_ones_to_their_command(stack, monkeypatch):
    svc = stack.tickets
    stale = submitted(svc, title="stale")
    time.sleep(0.06)
    fresh = submitted(svc, title="fresh")
    for t in (stale, fresh):
        stack.engine.cancel_process(t.id, "lost")
    # From the reconciler's clock the fresh one changed just now (inside the grace), the stale one before.
    reconciler = Reconciler(svc, grace_s=0.03, batch=1, now=lambda: svc.get(carol, fresh.id).updated_at)
    changed = sum(reconciler.run_pass() for _ in range(4))  # batch 1: the pages rotate through both
    assert changed == 1
    assert svc.get(carol, stale.id).history[-1].action == "process_restarted"
    assert svc.get(carol, fresh.id).history[-1].action == "submitted"


def test_pflow_reconcile_without_ids_heals_every_in_flight_ticket(tmp_path):
    """On demand, as an operator runs it: `pflow reconcile` against the embedded default's database."""
    from click.testing import CliRunner

    from pflow.entrypoints.cli import main

    s = build_stack("embedded", tmp_path)
    try:
        stuck = submitted(s.tickets)
        s.engine.cancel_process(stuck.id, "lost")
        fine = submitted(s.tickets, title="fine")
    finally:
        s.close()
    env = {"WORKFLOW_ENGINE": "embedded", "DATABASE_URL": s.settings.database_url, "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_SECRET_KEY": "test-secret"}
    result = CliRunner().invoke(main, ["reconcile"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 in-flight tickets checked, 1 brought in line" in result.output
    s = build_stack("embedded", tmp_path)
    try:
        assert s.tickets.get(carol, stuck.id).history[-1].action == "process_restarted"
        assert s.tickets.get(carol, fine.id).history[-1].action == "submitted"
    finally:
        s.close()


def test_wherever_a_worker_runs_reconciliation_runs_beside_it(tmp_path):
    from pflow.entrypoints.runtime import running
    from tests.support import settings_for

    settings = settings_for("embedded", tmp_path, reconcile_interval_s=1)
    with running(settings, worker=True, relay=False) as (container, services):
        assert services.reconciler is not None and services.reconciler.interval_s == 1
        assert "pflow-reconciler" in [t.name for t in threading.enumerate()]
    with running(settings, worker=False, relay=False) as (container, services):
        assert services.reconciler is None


def test_the_periodic_loop_runs_passes_until_stopped_and_survives_an_outage(stack):
    calls = []

    class Flaky(Reconciler):
        def run_pass(self):
            calls.append(1)
            if len(calls) == 1:
                raise ServiceUnavailable("database", "down for a moment")
            if len(calls) == 3:
                stop.set()
            return 0

    stop = threading.Event()
    loop = threading.Thread(target=Flaky(stack.tickets, interval_s=0.01).run, args=(stop,))
    loop.start()
    loop.join(5)
    assert not loop.is_alive() and len(calls) == 3



def test_asking_again_for_ones_own_lost_decision_says_it_stands(stack, monkeypatch):
    """The engine took bob's approval but its commit failed (503); bob approves again: told it is his."""
    t = submitted(stack.tickets)
    uow_class = type(stack.container.uow())
    original = uow_class._commit
    left = {"n": 1}

    def failing(self):
        if left["n"]:
            left["n"] -= 1
            raise ServiceUnavailable("database", "the database went away")
        return original(self)

    monkeypatch.setattr(uow_class, "_commit", failing)
    with pytest.raises(ServiceUnavailable):
        stack.tickets.approve(bob, t.id, "ok")
    with pytest.raises(ConcurrencyConflict, match="already approved by bob"):
        stack.tickets.approve(bob, t.id, "ok")
    healed = stack.tickets.get(carol, t.id)
    assert healed.status == TicketStatus.APPROVED and healed.approver == "bob"
