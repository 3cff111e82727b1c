"""Use cases over real adapters (the in-memory stack, SQLite and the embedded engine): coordination of
store and engine, and what happens when one of them fails half-way."""

from __future__ import annotations

import threading
import pytest

from pflow.domain.errors import (
    ConcurrencyConflict,
    EngineUnavailable,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationError,
)
from pflow.domain.model import TicketStatus
from pflow.ports.process import InstanceState
from pflow.ports.repository import TaskQuery, TicketQuery
from tests.support import TEST_USERS, build_stack

alice, erin, bob, dave, frank, fiona, sam, carol = (
    TEST_USERS.get(n) for n in ("alice", "erin", "bob", "dave", "frank", "fiona", "sam", "carol"))


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture
def memory_stack(tmp_path):
    s = build_stack("memory", tmp_path)
    yield s
    s.close()


def it_request(svc, requester=alice, title="Laptop", **fields):
    t = svc.create(requester, {"title": title, "fields": fields})
    return svc.submit(requester, t.id)


def purchase(svc, amount, requester=alice):
    t = svc.create(requester, {"type": "purchase_request", "title": "Chairs",
                               "fields": {"amount": amount, "supplier": "ACME"}})
    return svc.submit(requester, t.id)


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


def later(stack, seconds=60):
    """Reconciliation heals what the engine completed longer ago than heal_after_s: move that horizon."""
    stack.tickets.heal_after_s = -seconds


def test_submit_starts_the_types_process_with_the_ticket_as_typed_variables(stack):
    t = purchase(stack.tickets, 5000)
    view = stack.engine.instance(t.id)
    assert view.process_key == "purchase_request"
    assert view.variables["amount"] == 5000 and view.variables["supplier"] == "ACME"
    assert (view.variables["requester"], view.variables["ticket_type"], view.variables["ticket_id"]) == (
        "alice", "purchase_request", t.id)
    assert [s.name for s in t.steps] == ["Manager Approval"] and t.definition_id == view.definition_id


def test_unknown_fields_and_types_are_named(stack):
    with pytest.raises(ValidationError) as caught:
        stack.tickets.create(alice, {"type": "purchase_request", "title": "x", "fields": {"amount": 1, "colour": 2}})
    assert set(caught.value.details) == {"supplier", "colour"}
    with pytest.raises(ValidationError) as caught:
        stack.tickets.create(alice, {"type": "holiday", "title": "x"})
    assert "type" in caught.value.details


def test_submit_with_the_engine_down_changes_nothing(stack):
    if stack.kind == "embedded":
        pytest.skip("the embedded engine lives in the tickets' own database: it is down exactly when the store is")
    t = stack.tickets.create(alice, {"title": "Laptop"})
    stack.take_engine_down()
    with pytest.raises(EngineUnavailable):
        stack.tickets.submit(alice, t.id)
    stack.bring_engine_back()
    assert stack.tickets.get(alice, t.id).status == TicketStatus.DRAFT
    assert stack.engine.instance(t.id) is None


def test_submit_whose_commit_fails_cancels_the_new_instance(stack, monkeypatch):
    t = stack.tickets.create(alice, {"title": "Laptop"})
    fail_commits(stack, monkeypatch)
    with pytest.raises(ServiceUnavailable):
        stack.tickets.submit(alice, t.id)
    assert stack.tickets.get(alice, t.id).status == TicketStatus.DRAFT
    assert stack.engine.instance(t.id).state == InstanceState.TERMINATED
    assert stack.tickets.submit(alice, t.id).status == TicketStatus.IN_PROGRESS


def test_a_step_is_completed_with_its_form_checked_first(stack):
    t = purchase(stack.tickets, 5000)
    task = t.steps[0].task_id
    with pytest.raises(ValidationError) as caught:
        stack.tickets.complete_task(bob, task, {"manager_decision": "maybe", "extra": 1})
    assert set(caught.value.details) == {"manager_decision", "extra"}
    with pytest.raises(ValidationError) as caught:
        stack.tickets.complete_task(bob, task, {"manager_decision": "reject"})
    assert "comment" in caught.value.details  # a rejection says why
    assert stack.engine.open_tasks(t.id)[0].id == task  # nothing moved
    done = stack.tickets.complete_task(bob, task, {"manager_decision": "approve"}, "ok")
    assert [s.name for s in done.steps] == ["Finance Approval"]
    assert stack.engine.instance(t.id).variables["manager_decision"] == "approve"


def test_rules_are_checked_before_the_engine_is_touched(stack):
    t = it_request(stack.tickets, requester=dave)
    task = t.steps[0].task_id
    for user, reason in ((dave, "own_ticket"), (carol, "not_a_candidate")):
        with pytest.raises(PermissionDenied) as caught:
            stack.tickets.complete_task(user, task, {"approved": True})
        assert caught.value.details["reason"] == reason
    with pytest.raises(NotFound):  # someone who may not see the ticket is not told it exists
        stack.tickets.complete_task(fiona, task, {"approved": True})
    assert [x.id for x in stack.engine.open_tasks(t.id)] == [task]


def test_two_completions_of_one_step_one_wins_the_other_is_told_who(stack):
    t = it_request(stack.tickets)
    task = t.steps[0].task_id
    results = {}
    barrier = threading.Barrier(2)

    def complete(user):
        barrier.wait()
        try:
            results[user.username] = stack.tickets.complete_task(user, task, {"approved": True})
        except ConcurrencyConflict as exc:
            results[user.username] = exc

    threads = [threading.Thread(target=complete, args=(u,)) for u in (bob, dave)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    errors = [r for r in results.values() if isinstance(r, ConcurrencyConflict)]
    assert len(errors) == 1 and "already completed by" in errors[0].message
    history = stack.tickets.get(carol, t.id).history
    assert [h.action for h in history].count("step_completed") == 1


def test_the_approve_shortcut_needs_exactly_one_decision_for_the_caller(stack):
    t = stack.tickets.create(alice, {"type": "access_request", "title": "CRM",
                                     "fields": {"system": "crm", "access_level": "read"}})
    t = stack.tickets.submit(alice, t.id)
    assert sorted(s.name for s in t.steps) == ["Manager Approval", "Security Review"]
    assert "approve" in stack.tickets.allowed_actions(bob, t) and "approve" in stack.tickets.allowed_actions(sam, t)
    stack.tickets.approve(bob, t.id)
    with pytest.raises(PermissionDenied):
        stack.tickets.approve(bob, t.id)  # his step is done; security's is not his
    done = stack.tickets.approve(sam, t.id)
    assert [s.name for s in done.steps] == [] and done.current_steps == ["Grant Access"]


def test_a_lost_completion_is_recorded_from_the_engine_once_it_is_old_enough(stack, monkeypatch):
    t = it_request(stack.tickets)
    fail_commits(stack, monkeypatch)
    with pytest.raises(ServiceUnavailable):
        stack.tickets.approve(bob, t.id, "go ahead")
    fresh = stack.tickets.sync(t.id)
    assert "step_completed" not in [h.action for h in fresh.history]  # maybe still on its way: not yet
    later(stack)
    healed = stack.tickets.sync(t.id)
    entry = [h for h in healed.history if h.action == "step_completed"][0]
    assert (entry.actor, entry.comment, entry.details["recorded_from"]) == ("bob", "go ahead", "engine")
    assert entry.details["values"] == {"approved": True}
    assert healed.current_steps == ["Provision Service"] and healed.deciders == ["bob"]


@pytest.mark.parametrize("requester, decider, reason", [
    ("dave", "dave", "own_ticket"), ("alice", "fiona", "not_a_candidate"), ("alice", "mallory", "not_a_candidate")])
def test_a_completion_in_the_engine_that_breaks_the_rules_is_refused_and_the_process_starts_over(
        stack, requester, decider, reason):
    t = it_request(stack.tickets, requester=TEST_USERS.get(requester))
    stack.engine.complete_task(t.steps[0].task_id, {"approved": True}, completed_by=decider)
    later(stack)
    healed = stack.tickets.sync(t.id)
    refused = [h for h in healed.history if h.action == "engine_step_refused"]
    assert refused and refused[0].details["reason"] == reason and refused[0].details["by"] == decider
    assert healed.status == TicketStatus.IN_PROGRESS and [s.name for s in healed.steps] == ["Manager Approval"]
    assert "step_completed" not in [h.action for h in healed.history]
    assert stack.tickets.approve(bob, t.id).current_steps == ["Provision Service"]


def test_the_worker_following_its_step_does_not_make_the_approval_fail(stack):
    """The engine wakes the worker as soon as the decision is in; its sync of the ticket races the
    approval's own commit, which must still record the step as the decider's."""
    svc = stack.tickets
    t = it_request(svc)
    monkeypatched = stack.container.service_engine()
    original = monkeypatched.complete_task
    monkeypatched.complete_task = lambda *a, **k: (original(*a, **k), svc.sync(t.id))[0]
    try:
        done = svc.approve(bob, t.id, "go")
    finally:
        monkeypatched.complete_task = original
    entry = [h for h in done.history if h.action == "step_completed"]
    assert len(entry) == 1 and entry[0].actor == "bob" and "recorded_from" not in entry[0].details



def test_the_worker_follows_its_step_from_the_ticket_its_handler_read(stack, monkeypatch):
    """After an automated step the ticket follows its process from the handler's read, not a new one."""
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    repository = type(stack.container.uow().tickets)
    reads = []
    original = repository._get
    monkeypatch.setattr(repository, "_get", lambda self, ticket_id: (reads.append(ticket_id), original(self, ticket_id))[1])
    assert stack.worker().run_once() == 1
    assert reads == [t.id]
    assert stack.tickets.get(bob, t.id).status == TicketStatus.COMPLETED


def test_a_ticket_written_while_its_automated_step_ran_still_follows_the_process(stack, monkeypatch):
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    provisioner = stack.container.provisioner()
    provision = provisioner.provision

    def meanwhile(ticket):
        with stack.container.uow() as uow:  # someone writes the ticket after the handler read it
            uow.tickets.get(ticket.id).note(carol, "commented", {"text": "on its way"})
            uow.commit()
        return provision(ticket)

    monkeypatch.setattr(provisioner, "provision", meanwhile)
    assert stack.worker().run_once() == 1
    done = stack.tickets.get(bob, t.id)
    assert done.status == TicketStatus.COMPLETED
    assert [h.action for h in done.history][-3:] == ["commented", "step_results", "completed"]
    assert done.fulfilment_reference and done.fulfilment_reference.startswith("PRV-")


def _reference_of(stack, ticket_id):
    return stack.container.provisioner().provision(stack.tickets.get(carol, ticket_id))


def test_the_ticket_records_what_its_automated_step_returned_and_is_found_by_it(stack):
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    assert stack.worker().run_once() == 1
    done = stack.tickets.get(alice, t.id)
    reference = _reference_of(stack, t.id)
    assert done.status == TicketStatus.COMPLETED
    assert done.results == {"fulfilment_reference": reference}
    [entry] = [h for h in done.history if h.action == "step_results"]
    assert entry.actor == "system" and entry.details["reference"] == reference
    assert entry.details["results"] == {"fulfilment_reference": reference}
    assert entry.details["step"] and entry.details["task_id"]
    assert [h.action for h in done.history][-2:] == ["step_results", "completed"]
    page = stack.tickets.list(alice, TicketQuery(text=reference[2:].lower()))
    assert [x.id for x in page.items] == [t.id]


def test_a_step_reported_again_records_its_results_once(stack, monkeypatch):
    """The worker's report reaches the ticket twice (a retried report, a second worker that redid the step)."""
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    seen = []
    original = stack.tickets.after_automated_step
    monkeypatch.setattr(stack.tickets, "after_automated_step",
                        lambda key, *a: (seen.append(a), original(key, *a), original(key, *a)))
    worker = stack.worker()
    worker._on_progress = stack.tickets.after_automated_step
    assert worker.run_once() == 1
    assert len(seen) == 1 and seen[0][1] == {"fulfilment_reference": _reference_of(stack, t.id)}
    done = stack.tickets.get(alice, t.id)
    assert [h.action for h in done.history].count("step_results") == 1
    assert done.status == TicketStatus.COMPLETED


def test_results_wait_for_a_store_that_is_away_for_a_moment(stack, monkeypatch):
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    pauses = []
    monkeypatch.setattr(stack.tickets, "_sleep", pauses.append)
    worker = stack.worker()
    fail_commits(stack, monkeypatch, count=2)  # the engine has the completion; the ticket's store is away
    assert worker.run_once() == 1
    done = stack.tickets.get(alice, t.id)
    assert done.fulfilment_reference == _reference_of(stack, t.id)
    assert [h.action for h in done.history].count("step_results") == 1
    assert pauses == [0.2, 0.4] and done.status == TicketStatus.COMPLETED


def test_results_reach_a_ticket_that_followed_its_process_to_the_end_before_them(stack):
    """A reconciliation pass completes the ticket between the engine's completion and the worker's report."""
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    worker = stack.worker()
    engine = worker._engine
    complete = engine.complete
    engine.complete = lambda *a, **k: (complete(*a, **k), stack.tickets.sync(t.id))[0]
    try:
        assert worker.run_once() == 1
    finally:
        engine.complete = complete
    done = stack.tickets.get(alice, t.id)
    assert done.status == TicketStatus.COMPLETED
    assert done.fulfilment_reference == _reference_of(stack, t.id)
    # the pass found the reference in the process's variables; the worker's report then found it recorded
    assert [h.action for h in done.history][-2:] == ["step_results", "completed"]
    assert done.history[-2].details["recorded_from"] == "engine"
    assert [x.id for x in stack.tickets.list(alice, TicketQuery(text=done.fulfilment_reference)).items] == [t.id]


def test_a_reference_the_worker_could_not_record_is_found_in_the_engine_when_the_ticket_follows(stack):
    """The worker completed the step in the engine and died (or the store stayed away) before the ticket heard."""
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    worker = stack.worker()
    worker._on_progress = None
    assert worker.run_once() == 1
    assert stack.tickets.get(alice, t.id).results == {}  # nobody told the ticket
    done = stack.tickets.sync(t.id)  # a reconciliation pass
    reference = _reference_of(stack, t.id)
    assert (done.status, done.results) == (TicketStatus.COMPLETED, {"fulfilment_reference": reference})
    [entry] = [h for h in done.history if h.action == "step_results"]
    assert entry.details == {"results": {"fulfilment_reference": reference}, "reference": reference,
                             "recorded_from": "engine"}
    stack.tickets.sync(t.id)
    assert [h.action for h in stack.tickets.get(alice, t.id).history].count("step_results") == 1


def test_a_process_that_ends_without_a_reference_gets_none(stack):
    t = it_request(stack.tickets)
    stack.tickets.reject(bob, t.id, "not now")
    done = stack.tickets.sync(t.id)
    assert done.status == TicketStatus.REJECTED and done.results == {}
    assert "step_results" not in [h.action for h in done.history]


def test_commands_never_open_a_unit_of_work_inside_another(stack):
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
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    with pytest.raises(ConcurrencyConflict):
        stack.tickets.complete_task(dave, t.steps[0].task_id, {"approved": True})
    stack.tickets.sync(t.id)
    assert max(deepest) == 1


def test_withdraw_cancels_the_instance_and_resubmit_makes_a_new_draft(stack):
    t = purchase(stack.tickets, 5000)
    with pytest.raises(NotFound):
        stack.tickets.withdraw(erin, t.id)
    with pytest.raises(PermissionDenied):
        stack.tickets.withdraw(bob, t.id)
    w = stack.tickets.withdraw(alice, t.id, "not needed")
    assert w.status == TicketStatus.WITHDRAWN
    assert stack.engine.instance(t.id).state == InstanceState.TERMINATED
    assert stack.tickets.tasks(bob, TaskQuery(username="bob")).total == 0
    new = stack.tickets.resubmit(alice, t.id)
    assert (new.status, new.type, new.fields) == (TicketStatus.DRAFT, "purchase_request", w.fields)
    assert stack.tickets.get(alice, t.id).history[-1].details == {"ticket_id": new.id}


def test_a_draft_is_deleted_by_its_requester_only(stack):
    t = stack.tickets.create(alice, {"title": "Typo"})
    with pytest.raises(NotFound):
        stack.tickets.delete(erin, t.id)
    with pytest.raises(PermissionDenied):
        stack.tickets.delete(bob, t.id)
    stack.tickets.delete(alice, t.id)
    with pytest.raises(Exception):
        stack.tickets.get(alice, t.id)
    s = it_request(stack.tickets)
    with pytest.raises(InvalidTransition):
        stack.tickets.delete(alice, s.id)


def test_a_failed_automated_step_needs_attention_until_an_admin_retries(stack):
    stack.container.provisioner().failing = True
    t = it_request(stack.tickets)
    stack.tickets.approve(bob, t.id)
    worker = stack.worker()
    for _ in range(3):
        for task in stack.engine.fetch_and_lock("w", [worker.topics[0]], business_key=t.id):
            stack.engine.fail(task.id, "w", "backend down", retries=0, retry_timeout_ms=0)
    failing = stack.tickets.sync(t.id)
    assert (failing.status, failing.attention) == (TicketStatus.NEEDS_ATTENTION, "backend down")
    with pytest.raises(PermissionDenied):
        stack.tickets.retry(bob, t.id)
    stack.container.provisioner().failing = False
    retried = stack.tickets.retry(carol, t.id, "fixed")
    assert retried.status == TicketStatus.IN_PROGRESS
    assert worker.run_once() == 1
    assert stack.tickets.get(carol, t.id).status == TicketStatus.COMPLETED


def test_a_stopped_process_needs_attention_and_the_retry_starts_it_again(stack):
    t = it_request(stack.tickets)
    stack.engine.cancel(t.id, "operator")
    stopped = stack.tickets.sync(t.id)
    assert (stopped.status, stopped.attention) == (TicketStatus.NEEDS_ATTENTION, "process_stopped")
    again = stack.tickets.retry(carol, t.id)
    assert again.status == TicketStatus.IN_PROGRESS and [s.name for s in again.steps] == ["Manager Approval"]


def test_a_draft_whose_submission_was_lost_has_its_instance_cancelled(stack):
    t = stack.tickets.create(alice, {"title": "Laptop"})
    stack.engine.start("ticket_approval", t.id, {"ticket_id": t.id})
    # A young instance may be a submission still on its way (or about to be retried): left alone.
    assert stack.tickets.sync(t.id).status == TicketStatus.DRAFT
    assert stack.engine.instance(t.id).state == InstanceState.ACTIVE
    later(stack)
    assert stack.tickets.sync(t.id).status == TicketStatus.DRAFT
    assert stack.engine.instance(t.id).state == InstanceState.TERMINATED


def test_the_engine_going_away_mid_submit_leaves_a_draft_whose_next_submit_takes_the_instance(stack, monkeypatch):
    """The instance started, then the engine stopped answering: 503 at once, no compensating call that
    would wait as long again; the next submit takes the instance the first one started."""
    t = stack.tickets.create(alice, {"title": "Laptop"})
    engine = stack.tickets._engine
    calls = []
    original = type(engine).progress

    def gone(self, business_key, **kwargs):
        calls.append("progress")
        raise EngineUnavailable("Camunda", "no answer within 2s")

    monkeypatch.setattr(type(engine), "progress", gone)
    cancel = type(engine).cancel
    monkeypatch.setattr(type(engine), "cancel", lambda self, *a, **k: calls.append("cancel") or cancel(self, *a, **k))
    with pytest.raises(EngineUnavailable):
        stack.tickets.submit(alice, t.id)
    assert calls == ["progress"]  # nothing more was asked of the engine that was gone
    assert stack.tickets.get(alice, t.id).status == TicketStatus.DRAFT
    started = stack.engine.instance(t.id)
    assert started.state == InstanceState.ACTIVE
    monkeypatch.setattr(type(engine), "progress", original)
    again = stack.tickets.submit(alice, t.id)
    assert again.status == TicketStatus.IN_PROGRESS and [s.name for s in again.steps] == ["Manager Approval"]
    assert stack.engine.instance(t.id).instance_id == started.instance_id


def test_a_draft_edited_after_a_failed_submit_starts_its_process_with_the_edited_fields(stack, monkeypatch):
    """The first submission's commit failed and left its instance running; the requester then changed the
    amount. The next submit must not take the instance that still has the old amount."""
    t = stack.tickets.create(alice, {"type": "purchase_request", "title": "Chairs",
                                     "fields": {"amount": 500, "supplier": "ACME"}})
    fail_commits(stack, monkeypatch)
    engine = type(stack.tickets._engine)

    def lost(self, *args, **kwargs):
        raise EngineUnavailable("engine", "no answer")

    monkeypatch.setattr(engine, "cancel", lost)  # the compensating cancel is lost too
    with pytest.raises(ServiceUnavailable):
        stack.tickets.submit(alice, t.id)
    monkeypatch.undo()
    left = stack.engine.instance(t.id)
    assert left.state == InstanceState.ACTIVE and left.variables["amount"] == 500
    stack.tickets.update(alice, t.id, {"fields": {"amount": 5000}})
    again = stack.tickets.submit(alice, t.id)
    view = stack.engine.instance(t.id)
    assert view.instance_id != left.instance_id and view.variables["amount"] == 5000
    assert again.status == TicketStatus.IN_PROGRESS and [s.name for s in again.steps] == ["Manager Approval"]
    bob_approves = stack.tickets.approve(bob, t.id, "ok")
    assert [s.name for s in bob_approves.steps] == ["Finance Approval"]  # routed by the edited amount


def test_two_submits_of_one_draft_at_once_leave_one_running_instance(stack):
    """The later of two racing submits finds the instance the first started: it has the draft's values, so it
    is kept (never cancelled and started again, which would leave the winner's ticket with no process)."""
    t = stack.tickets.create(alice, {"type": "purchase_request", "title": "Chairs",
                                     "fields": {"amount": 500, "supplier": "ACME"}})
    barrier = threading.Barrier(2)
    outcomes: list = []

    def submit():
        barrier.wait(5)
        try:
            outcomes.append(stack.tickets.submit(alice, t.id).status)
        except (ConcurrencyConflict, InvalidTransition) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=submit, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads), "a submit is still waiting after 20 s"
    assert len(outcomes) == 2 and outcomes.count(TicketStatus.IN_PROGRESS) == 1, outcomes
    ticket = stack.tickets.get(alice, t.id)
    view = stack.engine.instance(t.id)
    assert view.state == InstanceState.ACTIVE, (outcomes, view)
    [task] = stack.engine.open_tasks(t.id)
    assert ticket.status == TicketStatus.IN_PROGRESS and [s.task_id for s in ticket.steps] == [task.id]


def test_the_inbox_of_each_group(stack):
    svc = stack.tickets
    purchase(svc, 5000)
    it_request(svc, requester=dave)
    assert svc.tasks(bob, TaskQuery(username="bob")).total == 2
    assert svc.tasks(dave, TaskQuery(username="dave")).total == 1  # not his own
    assert svc.tasks(fiona, TaskQuery(username="fiona")).total == 0
    assert svc.tasks(bob, TaskQuery(username="bob", type="purchase_request")).total == 1


@pytest.mark.parametrize("kind", ["memory", "sqlite", "embedded"])
@pytest.mark.parametrize("four_eyes", [True, False])
def test_four_eyes_across_levels_and_a_process_that_opts_out(kind, four_eyes, tmp_path):
    """frank (managers and finance) approves the manager level of a large purchase. With four eyes (the
    default) finance must be someone else: refused, and not in his inbox. A process that sets
    pflow.fourEyes=false lets him decide the second level too, and his inbox offers it."""
    import shutil

    from pflow.config import REPO_ROOT

    workflows = tmp_path / "opting-out"
    shutil.copytree(REPO_ROOT / "deploy" / "workflows", workflows)
    if not four_eyes:
        bpmn = workflows / "purchase-request.bpmn"
        text = bpmn.read_text()
        start = text.index(">", text.index('<bpmn:process id="purchase_request"')) + 1
        bpmn.write_text(text[:start] + '<bpmn:extensionElements><camunda:properties><camunda:property '
                        'name="pflow.fourEyes" value="false"/></camunda:properties></bpmn:extensionElements>'
                        + text[start:])
    s = build_stack(kind, tmp_path, workflows_dir=workflows)
    try:
        t = purchase(s.tickets, 5000)
        s.tickets.approve(frank, t.id, "fine")
        t = s.tickets.get(frank, t.id)
        assert t.current_steps == ["Finance Approval"]
        inbox = s.tickets.tasks(frank, TaskQuery(username="frank"))
        if four_eyes:
            assert inbox.total == 0
            assert "approve" not in s.tickets.allowed_actions(frank, t)
            with pytest.raises(PermissionDenied, match="four eyes"):
                s.tickets.approve(frank, t.id, "me again")
            s.tickets.approve(fiona, t.id, "ok")
        else:
            assert [i.step.name for i in inbox.items] == ["Finance Approval"]
            assert "approve" in s.tickets.allowed_actions(frank, t)
            s.tickets.approve(frank, t.id, "me again")
        done = s.tickets.get(alice, t.id)
        assert done.current_steps == ["Place Order"] and done.deciders == (
            ["frank", "fiona"] if four_eyes else ["frank"])
    finally:
        s.close()


def test_a_process_that_ended_right_after_a_lost_commit_records_the_step_before_it_completes(stack, monkeypatch):
    """bob's approval reached the engine, its commit failed, and the worker finished the process within
    seconds: the ticket completes with bob's step in its history, not without it."""
    t = it_request(stack.tickets)
    fail_commits(stack, monkeypatch)
    with pytest.raises(ServiceUnavailable):
        stack.tickets.approve(bob, t.id, "go ahead")
    assert stack.worker().run_once(wait_ms=0) == 1  # the worker's own sync sees the process ended
    done = stack.tickets.get(alice, t.id)
    assert done.status == TicketStatus.COMPLETED
    [entry] = [h for h in done.history if h.action == "step_completed"]
    assert entry.actor == "bob" and entry.comment == "go ahead" and entry.details["recorded_from"] == "engine"
    assert done.deciders == ["bob"]
