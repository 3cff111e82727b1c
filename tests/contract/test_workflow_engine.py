"""The WorkflowEngine port's contract, run on every engine adapter.

Real time with short locks, so the same assertions hold on a real engine.
"""

from __future__ import annotations

import threading
import time

import pytest

from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable
from pflow.ports.workflow import (
    APPROVAL_TASK,
    PROVISIONING_TOPIC,
    DeploymentRejected,
    InstanceState,
    TaskLockedByOtherWorker,
    TaskNotFound,
)
from tests.support import BPMN, make_unreachable_engine, wait_until

TOPICS = [PROVISIONING_TOPIC]


def approve(engine, key, approved=True, **extra):
    engine.start_process(key, {"requester": "alice"})
    task = wait_until(lambda: engine.find_user_task(key), message="approval task did not appear")
    engine.complete_user_task(task.id, {"approved": approved, "comment": "c", "approver": "bob", **extra},
                              assignee="bob")
    return task


def fetch_one(engine, key, worker="w1", lock_ms=30_000, wait_ms=0):
    tasks = engine.fetch_and_lock(worker, TOPICS, max_tasks=1, lock_duration_ms=lock_ms, wait_ms=wait_ms,
                                  business_key=key)
    return tasks[0] if tasks else None


def fetch_soon(engine, key, worker="w1", lock_ms=30_000, timeout=10.0):
    return wait_until(lambda: fetch_one(engine, key, worker, lock_ms), timeout=timeout,
                      message=f"no external task for {key} fetched by {worker}")


def test_deploying_the_same_file_twice_keeps_one_version(engine):
    first = engine.deploy(BPMN)
    second = engine.deploy(BPMN)
    assert first.definition_id == second.definition_id and first.version == second.version
    assert first.process_key == "ticket_approval"


def test_a_broken_file_is_refused(engine, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions this is not xml")
    with pytest.raises(DeploymentRejected):
        engine.deploy(broken)


def test_definition_xml_is_the_deployed_bpmn(engine):
    xml = engine.process_definition_xml()
    assert 'id="ticket_approval"' in xml and "ManagerApproval" in xml


def test_start_is_idempotent_per_business_key(engine, key):
    first = engine.start_process(key, {"requester": "alice"})
    second = engine.start_process(key, {"requester": "alice"})
    assert first.created and not second.created
    assert first.id == second.id and first.business_key == key


def test_the_approval_task_waits_for_managers(engine, key):
    assert engine.process_state(key) is None
    engine.start_process(key, {"requester": "alice"})
    task = engine.find_user_task(key)
    assert task is not None
    assert (task.task_definition_key, task.name, task.business_key) == (APPROVAL_TASK, "Manager Approval", key)
    assert task.candidate_groups == ("managers",)
    state = engine.process_state(key)
    assert state.state == InstanceState.ACTIVE
    assert state.active_activity_ids == (APPROVAL_TASK,)
    assert "TicketSubmitted" in state.completed_activity_ids
    assert engine.find_user_task("no-such-key") is None


def test_approval_leads_to_the_provisioning_task(engine, key):
    approve(engine, key)
    assert engine.find_user_task(key) is None
    task = fetch_soon(engine, key)
    assert (task.topic, task.business_key, task.activity_id, task.worker_id) == (
        PROVISIONING_TOPIC, key, "ProvisionService", "w1")
    assert task.retries is None
    state = engine.process_state(key)
    assert state.active_activity_ids == ("ProvisionService",)
    assert {APPROVAL_TASK, "ApprovalDecision"} <= set(state.completed_activity_ids)
    assert state.variables["approved"] is True and state.variables["approver"] == "bob"
    engine.complete_external_task(task.id, "w1", {"fulfilment_reference": "PRV-1"})
    state = wait_until(lambda: (s := engine.process_state(key)) and s.state == InstanceState.COMPLETED and s)
    assert "Completed" in state.completed_activity_ids and state.active_activity_ids == ()
    assert state.variables["fulfilment_reference"] == "PRV-1"


def test_rejection_ends_the_process(engine, key):
    approve(engine, key, approved=False)
    state = wait_until(lambda: (s := engine.process_state(key)) and s.state == InstanceState.COMPLETED and s)
    assert "Rejected" in state.completed_activity_ids and "ProvisionService" not in state.completed_activity_ids
    assert state.variables["approved"] is False
    assert fetch_one(engine, key) is None


def test_completing_an_unknown_or_finished_user_task_fails(engine, key):
    with pytest.raises(TaskNotFound):
        engine.complete_user_task("00000000-0000-0000-0000-000000000000", {"approved": True})
    task = approve(engine, key)
    with pytest.raises(TaskNotFound):
        engine.complete_user_task(task.id, {"approved": False})


def test_two_concurrent_completions_one_wins(engine, key):
    engine.start_process(key, {})
    task = engine.find_user_task(key)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def complete(approved):
        barrier.wait()
        try:
            engine.complete_user_task(task.id, {"approved": approved, "comment": "", "approver": "x"})
            outcomes.append("ok")
        except (TaskNotFound, ConcurrencyConflict):
            outcomes.append("lost")

    threads = [threading.Thread(target=complete, args=(a,)) for a in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "ok"]


def test_a_locked_task_is_not_given_to_another_worker(engine, key):
    approve(engine, key)
    task = fetch_soon(engine, key, "w1")
    assert fetch_one(engine, key, "w2") is None
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete_external_task(task.id, "w2")
    engine.complete_external_task(task.id, "w1")
    with pytest.raises(TaskNotFound):
        engine.complete_external_task(task.id, "w1")


def test_an_expired_lock_lets_another_worker_take_the_task(engine, key):
    approve(engine, key)
    task = fetch_soon(engine, key, "w1", lock_ms=1000)
    time.sleep(1.2)
    again = fetch_soon(engine, key, "w2", lock_ms=30_000)
    assert again.id == task.id and again.worker_id == "w2"
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete_external_task(task.id, "w1")
    engine.complete_external_task(task.id, "w2")


def test_extending_a_lock_keeps_the_task(engine, key):
    approve(engine, key)
    task = fetch_soon(engine, key, "w1", lock_ms=1000)
    engine.extend_lock(task.id, "w1", 5000)
    time.sleep(1.3)
    assert fetch_one(engine, key, "w2") is None
    with pytest.raises(TaskLockedByOtherWorker):
        engine.extend_lock(task.id, "w2", 5000)
    engine.complete_external_task(task.id, "w1")


def test_failure_with_retries_makes_the_task_wait_then_come_back(engine, key):
    approve(engine, key)
    task = fetch_soon(engine, key)
    engine.handle_external_task_failure(task.id, "w1", "backend down", retries=2, retry_timeout_ms=1000)
    assert fetch_one(engine, key, "w2") is None
    again = fetch_soon(engine, key, "w2", timeout=10)
    assert again.id == task.id and again.retries == 2
    engine.complete_external_task(again.id, "w2")


def test_failure_with_no_retries_left_is_an_incident_until_retries_are_set(engine, key):
    approve(engine, key)
    task = fetch_soon(engine, key)
    engine.handle_external_task_failure(task.id, "w1", "backend down", retries=0, retry_timeout_ms=0,
                                        error_details="trace")
    state = wait_until(lambda: (s := engine.process_state(key)) and s.incidents and s)
    assert state.state == InstanceState.INCIDENT
    assert any("backend down" in i for i in state.incidents)
    time.sleep(0.3)
    assert fetch_one(engine, key, "w2") is None
    [open_task] = engine.find_external_tasks(key)
    assert open_task.id == task.id and open_task.retries == 0 and "backend down" in (open_task.error_message or "")
    engine.set_external_task_retries(task.id, 3)
    again = fetch_soon(engine, key, "w2")
    assert again.id == task.id and again.retries == 3
    engine.complete_external_task(again.id, "w2")
    assert wait_until(lambda: engine.process_state(key).state == InstanceState.COMPLETED)


def test_long_polling_returns_as_soon_as_a_task_appears(engine, key):
    engine.start_process(key, {})
    task = engine.find_user_task(key)
    timer = threading.Timer(0.3, engine.complete_user_task, args=(task.id, {"approved": True, "comment": "",
                                                                             "approver": "bob"}))
    started = time.monotonic()
    timer.start()
    try:
        fetched = engine.fetch_and_lock("w1", TOPICS, lock_duration_ms=10_000, wait_ms=8000, business_key=key)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert len(fetched) == 1 and fetched[0].business_key == key
    assert elapsed < 4.0, f"long poll took {elapsed:.2f}s to return a task that appeared after 0.3s"
    engine.complete_external_task(fetched[0].id, "w1")


def test_fetch_without_tasks_waits_then_returns_nothing(engine, key):
    started = time.monotonic()
    assert engine.fetch_and_lock("w1", TOPICS, wait_ms=500, business_key=key) == []
    assert time.monotonic() - started >= 0.4


def test_cancel_stops_the_instance_and_a_new_start_begins_again(engine, key):
    first = engine.start_process(key, {})
    assert engine.cancel_process(key, "test") is True
    assert engine.find_user_task(key) is None
    assert engine.process_state(key).state == InstanceState.TERMINATED
    assert engine.cancel_process(key, "again") is False
    second = engine.start_process(key, {})
    assert second.created and second.id != first.id


def test_errors_for_unknown_external_tasks(engine):
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(TaskNotFound):
        engine.complete_external_task(missing, "w1")
    with pytest.raises(TaskNotFound):
        engine.set_external_task_retries(missing, 1)


def test_an_unreachable_engine_says_so(engine_kind, tmp_path):
    down = make_unreachable_engine(engine_kind, tmp_path)
    for call in (down.check, lambda: down.start_process("k", {}), lambda: down.find_user_task("k"),
                 lambda: down.fetch_and_lock("w", TOPICS)):
        with pytest.raises(EngineUnavailable) as err:
            call()
        assert down.name in err.value.message
