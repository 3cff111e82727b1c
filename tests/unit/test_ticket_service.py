"""Use cases over the in-memory adapters: coordination of store and engine, and what happens
when one of them fails half-way."""

from __future__ import annotations

import threading

import pytest

from pflow.adapters.memory.repository import InMemoryUnitOfWork
from pflow.domain.errors import (
    ConcurrencyConflict,
    EngineUnavailable,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)
from pflow.domain.model import TicketStatus
from pflow.ports.repository import TicketQuery
from pflow.ports.workflow import InstanceState
from tests.support import TEST_USERS

alice, erin, bob, dave, carol = (TEST_USERS.get(n) for n in ("alice", "erin", "bob", "dave", "carol"))


@pytest.fixture
def svc(memory_stack):
    return memory_stack.tickets


@pytest.fixture
def engine(memory_stack):
    return memory_stack.engine


def submitted(svc, requester=alice, title="Laptop"):
    t = svc.create(requester, {"title": title})
    return svc.submit(requester, t.id)


def fail_next_commit(monkeypatch):
    original = InMemoryUnitOfWork._commit
    calls = {"n": 0}

    def failing(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ServiceUnavailable("database", "the database went away")
        return original(self)

    monkeypatch.setattr(InMemoryUnitOfWork, "_commit", failing)


def test_submit_starts_the_process_with_the_ticket_id_as_business_key(svc, engine):
    t = submitted(svc)
    assert t.status == TicketStatus.PENDING_APPROVAL
    task = engine.find_user_task(t.id)
    assert task is not None and task.candidate_groups == ("managers",)
    assert engine.process_state(t.id).variables["requester"] == "alice"


def test_submit_with_the_engine_down_changes_nothing(svc, engine):
    t = svc.create(alice, {"title": "Laptop"})
    engine.available = False
    with pytest.raises(EngineUnavailable):
        svc.submit(alice, t.id)
    engine.available = True
    assert svc.get(alice, t.id).status == TicketStatus.DRAFT
    assert engine.process_state(t.id) is None
    assert svc.submit(alice, t.id).status == TicketStatus.PENDING_APPROVAL


def test_submit_whose_commit_fails_cancels_the_new_instance(svc, engine, monkeypatch):
    t = svc.create(alice, {"title": "Laptop"})
    fail_next_commit(monkeypatch)
    with pytest.raises(ServiceUnavailable):
        svc.submit(alice, t.id)
    assert svc.get(alice, t.id).status == TicketStatus.DRAFT
    assert engine.process_state(t.id).state == InstanceState.TERMINATED
    assert engine.find_user_task(t.id) is None
    again = svc.submit(alice, t.id)
    assert again.status == TicketStatus.PENDING_APPROVAL and engine.find_user_task(t.id) is not None


def test_approve_with_the_engine_down_changes_nothing(svc, engine):
    t = submitted(svc)
    engine.available = False
    with pytest.raises(EngineUnavailable):
        svc.approve(bob, t.id)
    engine.available = True
    assert svc.get(bob, t.id).status == TicketStatus.PENDING_APPROVAL
    assert engine.find_user_task(t.id) is not None


def test_a_lost_approval_commit_is_healed_by_the_worker(memory_stack, svc, engine, monkeypatch):
    t = submitted(svc)
    fail_next_commit(monkeypatch)
    with pytest.raises(ServiceUnavailable):
        svc.approve(bob, t.id, "go ahead")
    assert svc.get(bob, t.id).status == TicketStatus.PENDING_APPROVAL
    assert "ProvisionService" in engine.process_state(t.id).active_activity_ids
    assert memory_stack.worker().run_once() == 1
    healed = svc.get(bob, t.id)
    assert healed.status == TicketStatus.COMPLETED and healed.approver == "bob"
    actions = [(h.action, h.actor) for h in healed.history]
    assert ("approved", "bob") in actions and actions[-1] == ("completed", "system")
    # What the manager wrote stays theirs; how it was recorded is a system fact beside it.
    assert healed.history[-2].comment == "go ahead"
    assert healed.history[-2].details == {"recorded_from": "engine"}


def test_a_lost_rejection_commit_is_healed_by_the_next_attempt(svc, engine, monkeypatch):
    t = submitted(svc)
    fail_next_commit(monkeypatch)
    with pytest.raises(ServiceUnavailable):
        svc.reject(bob, t.id, "too expensive")
    with pytest.raises(ConcurrencyConflict, match="already rejected by bob"):
        svc.approve(dave, t.id)
    healed = svc.get(bob, t.id)
    assert healed.status == TicketStatus.REJECTED and healed.history[-1].comment.startswith("too expensive")


def test_two_managers_at_once_exactly_one_wins(svc):
    t = submitted(svc)
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(manager):
        barrier.wait()
        try:
            svc.approve(manager, t.id)
            outcomes[manager.username] = "ok"
        except (ConcurrencyConflict, InvalidTransition) as exc:  # both are a 409
            outcomes[manager.username] = exc.message

    threads = [threading.Thread(target=decide, args=(m,)) for m in (bob, dave)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes.values()).count("ok") == 1
    final = svc.get(bob, t.id)
    assert final.status == TicketStatus.APPROVED
    assert [h.action for h in final.history].count("approved") == 1
    loser = next(v for v in outcomes.values() if v != "ok")
    assert f"already approved by {final.approver}" in loser or "ticket that is approved" in loser


def test_the_winner_succeeds_even_if_the_loser_reconciled_first(svc, engine):
    """The loser of a race heals the ticket from the engine's decision; the winner's later commit
    then finds a newer version holding its own decision, which is a success, not a conflict."""
    t = submitted(svc)
    complete = engine.complete_user_task

    def complete_then_loser_reconciles(*args, **kwargs):
        complete(*args, **kwargs)
        svc.reconcile(t.id)

    engine.complete_user_task = complete_then_loser_reconciles
    approved = svc.approve(bob, t.id, "fine")
    assert approved.status == TicketStatus.APPROVED and approved.approver == "bob"
    assert [h.action for h in svc.get(bob, t.id).history].count("approved") == 1


def test_the_approver_succeeds_when_the_worker_provisioned_before_the_approve_commit(svc, engine):
    """The engine commits the approval first; a fast worker picks the provisioning task up, heals the
    ticket from the engine's decision and completes it, all before approve's own commit, which then
    finds a newer version. The approval went through: a success, not a conflict."""
    t = submitted(svc)
    complete = engine.complete_user_task

    def complete_then_worker_provisions(*args, **kwargs):
        complete(*args, **kwargs)
        svc.prepare_provisioning(t.id)  # reconciles: the ticket is approved from the engine's variables
        svc.complete_provisioning(t.id, "PRV-1")

    engine.complete_user_task = complete_then_worker_provisions
    done = svc.approve(bob, t.id, "fine")
    assert done.status == TicketStatus.COMPLETED and done.approver == "bob"
    assert [h.action for h in svc.get(bob, t.id).history].count("approved") == 1


def test_a_conflict_from_someone_else_s_decision_is_still_a_conflict(svc, engine):
    t = submitted(svc)
    complete = engine.complete_user_task

    def complete_then_another_manager_rejects_in_the_store(*args, **kwargs):
        complete(*args, **kwargs)
        with svc._uow() as uow:  # a write the engine did not make: another manager's decision
            other = uow.tickets.get(t.id)
            other.reject(dave, "no", separation_of_duties=False)
            uow.commit()

    engine.complete_user_task = complete_then_another_manager_rejects_in_the_store
    with pytest.raises(ConcurrencyConflict):
        svc.approve(bob, t.id, "fine")


def test_deciding_when_the_process_was_stopped_starts_it_again_and_decides(svc, engine):
    t = submitted(svc)
    engine.cancel_process(t.id, "operator cancelled")
    decided = svc.approve(bob, t.id)
    assert decided.status == TicketStatus.APPROVED
    assert [h.action for h in decided.history][-2:] == ["process_restarted", "approved"]


def test_rules_are_checked_before_the_engine_is_touched(svc, engine):
    t = submitted(svc)
    with pytest.raises(PermissionDenied):
        svc.approve(alice, t.id)
    with pytest.raises(PermissionDenied):
        svc.approve(carol, t.id)
    assert engine.find_user_task(t.id) is not None


def test_requesters_see_only_their_own_tickets(svc):
    mine = svc.create(alice, {"title": "mine"})
    theirs = svc.create(erin, {"title": "theirs"})
    listed = svc.list(alice, TicketQuery(requester="erin"))
    assert [t.id for t in listed.items] == [mine.id]
    with pytest.raises(NotFound):
        svc.get(alice, theirs.id)
    assert {t.id for t in svc.list(bob, TicketQuery()).items} == {mine.id, theirs.id}


def test_the_inbox_holds_others_pending_tickets_oldest_first(svc):
    first = submitted(svc, alice, "first")
    svc.create(alice, {"title": "a draft"})
    second = submitted(svc, erin, "second")
    boss = TEST_USERS.get("dave")
    own = svc.create(boss, {"title": "dave's own"})
    svc.submit(boss, own.id)
    inbox = svc.inbox(boss)
    assert [t.id for t in inbox.items] == [first.id, second.id]
    with pytest.raises(PermissionDenied):
        svc.inbox(alice)


def test_failed_provisioning_and_admin_retry(memory_stack, svc, engine):
    provisioner = memory_stack.container.provisioner()
    t = submitted(svc)
    svc.approve(bob, t.id)
    worker = memory_stack.worker()
    provisioner.failing = True
    for _ in range(3):  # retries count down 2, 1, 0
        _run_when_ready(engine, worker, t.id)
    failed = svc.get(carol, t.id)
    assert failed.status == TicketStatus.PROVISIONING_FAILED
    assert engine.process_state(t.id).state == InstanceState.INCIDENT
    provisioner.failing = False
    with pytest.raises(PermissionDenied):
        svc.retry_provisioning(bob, t.id)
    retried = svc.retry_provisioning(carol, t.id, "backend fixed")
    assert retried.status == TicketStatus.APPROVED
    assert worker.run_once() == 1
    done = svc.get(carol, t.id)
    assert done.status == TicketStatus.COMPLETED
    assert [h.action for h in done.history][-3:] == ["provisioning_failed", "provisioning_retried", "completed"]
    assert done.history[-2].actor == "carol"


def test_retry_with_the_engine_down_puts_the_ticket_back(memory_stack, svc, engine):
    t = submitted(svc)
    svc.approve(bob, t.id)
    task = engine.fetch_and_lock("w", ["ticket-processing"])[0]
    engine.handle_external_task_failure(task.id, "w", "boom", retries=0, retry_timeout_ms=0)
    svc.report_provisioning_failure(t.id, "boom")
    original = engine.set_external_task_retries

    def down(*args, **kwargs):
        raise EngineUnavailable(engine.name)

    engine.set_external_task_retries = down
    with pytest.raises(EngineUnavailable):
        svc.retry_provisioning(carol, t.id)
    engine.set_external_task_retries = original
    back = svc.get(carol, t.id)
    assert back.status == TicketStatus.PROVISIONING_FAILED
    assert [h.action for h in back.history][-2:] == ["provisioning_retried", "provisioning_failed"]


def test_the_process_view_follows_the_engine(svc):
    t = svc.create(alice, {"title": "x"})
    view = svc.process(alice, t.id)
    assert view.state is None and 'id="ticket_approval"' in view.definition_xml
    svc.submit(alice, t.id)
    view = svc.process(alice, t.id)
    assert view.state == "active" and view.active_activity_ids == ("ManagerApproval",)


def _run_when_ready(engine, worker, key):
    """Run the worker once, first making a task whose retry timeout is pending fetchable now."""
    for task in engine.find_external_tasks(key):
        if task.retries:
            engine.set_external_task_retries(task.id, task.retries)
    assert worker.run_once() == 1
