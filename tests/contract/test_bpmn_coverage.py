"""The BPMN of engine round 2, run through the process ports: multi-instance quorum approval, embedded
subprocesses and call activities on every engine (Camunda 7 included), and timers — boundary
(interrupting and not), intermediate, ``${...}`` durations — on the engines whose timers PFlow fires,
with the clock moved instead of waited for. Durable timers: a new engine object on the same database
fires what the old one left, and concurrent firers fire each timer exactly once.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from pflow.ports.process import InstanceState, TimerJobs
from tests.support import ENGINES, SteppedClock, make_embedded_engine, make_engine

HERE = Path(__file__).parent / "bpmn"
T0 = 1_800_000_000.0  # a fixed start time for the moved clocks


def Clock() -> SteppedClock:  # noqa: N802 - the moved clock every timer test starts from
    return SteppedClock(T0)


def _file(tmp_path: Path, template: str, suffix: str) -> Path:
    xml = (HERE / template).read_text(encoding="utf-8")
    for key in ("contract_quorum", "contract_escalation", "contract_caller", "contract_called",
                "contract_subprocess", "contract_error", "contract_order", "contract_fulfil"):
        xml = xml.replace(f'"{key}"', f'"{key}_{suffix}"')
    path = tmp_path / f"{suffix}-{template}"
    path.write_text(xml, encoding="utf-8")
    return path


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    e = make_engine(request.param, tmp_path)
    yield e
    e.close()


@pytest.fixture
def suffix():
    return uuid.uuid4().hex[:10]


def _complete(engine, key, activity, by, variables=None):
    task = next(t for t in engine.open_tasks(key) if t.definition_key == activity and (t.assignee in (None, by)))
    engine.complete_task(task.id, variables or {}, completed_by=by)
    return task


def test_quorum_two_of_three_completes_on_the_second_approval(engine, tmp_path, suffix):
    engine.deploy(_file(tmp_path, "quorum.bpmn", suffix))
    key = f"quorum-{suffix}"
    engine.start(f"contract_quorum_{suffix}", key, {"reviewers": ["ann", "bob", "cid"]})
    try:
        tasks = engine.open_tasks(key)
        assert sorted(t.assignee for t in tasks) == ["ann", "bob", "cid"]  # one instance per reviewer
        _complete(engine, key, "Review", "bob")
        assert sorted(t.assignee for t in engine.open_tasks(key)) == ["ann", "cid"]
        assert engine.instance(key).state == InstanceState.ACTIVE
        _complete(engine, key, "Review", "cid")
        view = engine.instance(key)
        assert view.state == InstanceState.COMPLETED  # 2 of 3: the third instance is cancelled
        assert engine.open_tasks(key) == []
        done = engine.completed_tasks(key)
        assert sorted(t.completed_by for t in done if t.definition_key == "Review") == ["bob", "cid"]
    finally:
        engine.cancel(key, "test finished")


def test_embedded_subprocess_runs_its_steps_in_the_instance(engine, tmp_path, suffix):
    engine.deploy(_file(tmp_path, "subprocess.bpmn", suffix))
    key = f"sub-{suffix}"
    engine.start(f"contract_subprocess_{suffix}", key, {"amount": 5})
    try:
        (check,) = engine.open_tasks(key)
        assert (check.definition_key, check.candidate_groups) == ("Check", ("managers",))
        engine.complete_task(check.id, {"checked": True}, completed_by="mia")
        view = engine.instance(key)
        assert view.state == InstanceState.COMPLETED and view.end_activity_id == "End_Caller"
        assert [t.definition_key for t in engine.completed_tasks(key)] == ["Check"]
    finally:
        engine.cancel(key, "test finished")


@pytest.mark.parametrize("kind", ENGINES)
def test_call_activity_runs_the_called_process_under_the_business_key(kind, tmp_path, suffix):
    engine = make_engine(kind, tmp_path)
    try:
        engine.deploy(_file(tmp_path, "call.bpmn", suffix))
        key = f"call-{suffix}"
        engine.start(f"contract_caller_{suffix}", key, {"amount": 5})
        (check,) = engine.open_tasks(key)
        engine.complete_task(check.id, {"checked": True}, completed_by="mia")
        (sign,) = engine.open_tasks(key)  # the called process's step, found by the caller's business key
        assert (sign.definition_key, sign.candidate_groups) == ("Sign", ("finance",))
        engine.complete_task(sign.id, {}, completed_by="fay")
        view = engine.instance(key)
        assert view.state == InstanceState.COMPLETED
        assert view.end_activity_id == "End_Caller"
        assert [t.definition_key for t in engine.completed_tasks(key)] == ["Check", "Sign"]
    finally:
        engine.close()


def test_a_call_activity_of_a_process_not_deployed_is_refused_at_deploy(tmp_path, suffix):
    from pflow.ports.process import DeploymentRejected

    engine = make_engine("embedded", tmp_path)
    try:
        xml = _file(tmp_path, "call.bpmn", suffix).read_text(encoding="utf-8")
        called_at = xml.index('  <bpmn:process id="contract_called')
        only_caller = tmp_path / "caller-only.bpmn"
        only_caller.write_text(xml[:called_at].replace('id="call_defs"', 'id="caller_only_defs"')
                               .replace("Caller", "Caller only") + "</bpmn:definitions>\n", encoding="utf-8")
        with pytest.raises(DeploymentRejected, match="the called process 'contract_called_.*' is not deployed"):
            engine.deploy(only_caller)
        engine.deploy(_file(tmp_path, "call.bpmn", suffix))
        # deployed now: a file with only the caller resolves it from the deployed definitions
        assert engine.deploy(only_caller)[0].created
    finally:
        engine.close()


# --------------------------------------------------------------------------- timers (PFlow fires them)

# Camunda fires its timers in its own job executor (tests/contract/test_corpus.py runs its timer jobs).
TIMER_ENGINES = [p for p in ENGINES if p.values[0] != "camunda"]


def _timer_engine(kind, tmp_path, clock, **options):
    if kind == "memory":
        from pflow.adapters.memory.workflow import InMemoryWorkflowEngine

        return InMemoryWorkflowEngine(clock=clock)
    return make_embedded_engine(kind, tmp_path, clock=clock, **options)


@pytest.fixture(params=TIMER_ENGINES)
def timer_kind(request):
    return request.param


def test_non_interrupting_timer_adds_a_lead_step_and_the_approval_stays(timer_kind, tmp_path, suffix):
    clock = Clock()
    engine = _timer_engine(timer_kind, tmp_path, clock)
    try:
        assert isinstance(engine, TimerJobs)
        engine.deploy(_file(tmp_path, "escalation.bpmn", suffix))
        key = f"esc-{suffix}"
        engine.start(f"contract_escalation_{suffix}", key, {"giveUpAfter": "P1D"})
        assert engine.next_timer_due().timestamp() == T0 + 3600
        clock.advance(3599)
        assert engine.fire_due_timers() == []
        clock.advance(1)
        assert engine.fire_due_timers() == [key]
        assert sorted(t.definition_key for t in engine.open_tasks(key)) == ["Approve", "Lead_Review"]
        assert engine.fire_due_timers() == []  # fired once
        approve = next(t for t in engine.open_tasks(key) if t.definition_key == "Approve")
        engine.complete_task(approve.id, {}, completed_by="mia")
        assert [t.definition_key for t in engine.open_tasks(key)] == ["Lead_Review"]
        assert engine.next_timer_due() is None  # the approval's timers went with it
    finally:
        engine.close()


def test_interrupting_timer_from_a_variable_then_an_intermediate_timer(timer_kind, tmp_path, suffix):
    clock = Clock()
    engine = _timer_engine(timer_kind, tmp_path, clock)
    try:
        engine.deploy(_file(tmp_path, "escalation.bpmn", suffix))
        key = f"esc-{suffix}"
        engine.start(f"contract_escalation_{suffix}", key, {"giveUpAfter": "PT30M"})
        clock.advance(1800)
        assert engine.fire_due_timers() == [key]
        assert engine.open_tasks(key) == []  # the approval is interrupted
        assert engine.instance(key).state == InstanceState.ACTIVE  # waiting at the intermediate timer
        clock.advance(24 * 3600)  # long past due: fires late, after "downtime"
        assert engine.fire_due_timers() == [key]
        view = engine.instance(key)
        assert view.state == InstanceState.COMPLETED and view.end_activity_id == "End"
        assert {"Give_Up", "Wait"} <= set(view.completed_activity_ids)
    finally:
        engine.close()


def test_a_new_engine_object_fires_the_timers_an_earlier_one_left(tmp_path, suffix):
    clock = Clock()
    first = _timer_engine("embedded", tmp_path, clock)
    first.deploy(_file(tmp_path, "escalation.bpmn", suffix))
    key = f"esc-{suffix}"
    first.start(f"contract_escalation_{suffix}", key, {"giveUpAfter": "P1D"})
    first.close()
    clock.advance(7200)
    second = _timer_engine("embedded", tmp_path, clock, fresh=False)
    try:
        assert second.fire_due_timers() == [key]
        assert sorted(t.definition_key for t in second.open_tasks(key)) == ["Approve", "Lead_Review"]
    finally:
        second.close()


@pytest.mark.parametrize("kind", [pytest.param("embedded", id="embedded"),
                                  pytest.param("embedded-postgres", id="embedded-postgres",
                                               marks=pytest.mark.integration)])
def test_concurrent_firers_fire_each_timer_exactly_once(kind, tmp_path, suffix):
    clock = Clock()
    engines = [_timer_engine(kind, tmp_path, clock, fresh=(i == 0)) for i in range(4)]
    try:
        engines[0].deploy(_file(tmp_path, "escalation.bpmn", suffix))
        keys = [f"esc-{suffix}-{i}" for i in range(12)]
        for key in keys:
            engines[0].start(f"contract_escalation_{suffix}", key, {"giveUpAfter": "P1D"})
        clock.advance(3600)
        fired: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(engines))

        def fire(engine):
            barrier.wait()
            got = engine.fire_due_timers()
            with lock:
                fired.extend(got)

        threads = [threading.Thread(target=fire, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads), "a firer stalled"
        assert sorted(fired) == sorted(keys)  # every instance once, none twice
        for key in keys:
            assert sorted(t.definition_key for t in engines[0].open_tasks(key)) == ["Approve", "Lead_Review"]
    finally:
        for engine in engines:
            engine.close()


# --- BPMN errors thrown by workers -------------------------------------------------------------------

def _fetch(engine, key, topic, worker="w-error"):
    (task,) = engine.fetch_and_lock(worker, [topic], business_key=key, lock_duration_ms=60_000)
    return task


def _start_errors(engine, tmp_path, suffix, name):
    engine.deploy(_file(tmp_path, "error.bpmn", suffix))
    key = f"{name}-{suffix}"
    engine.start(f"contract_error_{suffix}", key, {"item": "desk"})
    return key


def test_a_bpmn_error_is_caught_by_the_boundary_event_of_its_task(engine, tmp_path, suffix):
    key = _start_errors(engine, tmp_path, suffix, "err-task")
    try:
        task = _fetch(engine, key, "contract-error-reserve")
        engine.bpmn_error(task.id, "w-error", "OUT_OF_STOCK", error_message="2 desks short",
                          variables={"short_by": 2})
        assert engine.automated_steps(key) == []  # the error interrupts the task
        (reorder,) = engine.open_tasks(key)
        assert (reorder.definition_key, reorder.candidate_groups) == ("Reorder", ("managers",))
        variables = engine.instance(key).variables
        # the boundary's camunda:errorCodeVariable / errorMessageVariable, and the worker's own variables
        assert (variables["errorCode"], variables["errorMessage"], variables["short_by"]) == (
            "OUT_OF_STOCK", "2 desks short", 2)
        engine.complete_task(reorder.id, {}, completed_by="mia")
        view = engine.instance(key)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "End_Reordered")
    finally:
        engine.cancel(key, "test finished")


def test_a_bpmn_error_in_a_subprocess_is_caught_on_the_subprocess(engine, tmp_path, suffix):
    key = _start_errors(engine, tmp_path, suffix, "err-sub")
    try:
        engine.complete(_fetch(engine, key, "contract-error-reserve").id, "w-error")
        ship = _fetch(engine, key, "contract-error-ship")
        engine.bpmn_error(ship.id, "w-error", "SHIP_FAILED")
        view = engine.instance(key)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "End_Undelivered")
        assert engine.automated_steps(key) == []
    finally:
        engine.cancel(key, "test finished")


def test_a_bpmn_error_nothing_catches_ends_the_execution(engine, tmp_path, suffix):
    # Camunda 7 (without enableExceptionsAfterUnhandledBpmnError) ends the execution that threw: in the
    # process itself the instance ends, at no end event; inside a subprocess the subprocess ends and the
    # process goes on after it.
    key = _start_errors(engine, tmp_path, suffix, "err-uncaught")
    try:
        reserve = _fetch(engine, key, "contract-error-reserve")
        engine.bpmn_error(reserve.id, "w-error", "NO_SUCH_CODE", variables={"tried": 1})  # catches OUT_OF_STOCK
        view = engine.instance(key)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, None)
        assert view.variables["tried"] == 1 and "errorCode" not in view.variables
        assert engine.automated_steps(key) == [] and engine.open_tasks(key) == []
    finally:
        engine.cancel(key, "test finished")

    key = _start_errors(engine, tmp_path, suffix, "err-uncaught-sub")
    try:
        engine.complete(_fetch(engine, key, "contract-error-reserve").id, "w-error")
        ship = _fetch(engine, key, "contract-error-ship")
        engine.bpmn_error(ship.id, "w-error", "NO_SUCH_CODE")  # the subprocess's boundary catches SHIP_FAILED
        view = engine.instance(key)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "End_Delivered")
    finally:
        engine.cancel(key, "test finished")


def test_a_caught_bpmn_error_without_a_message_sets_the_message_variable_to_null(engine, tmp_path, suffix):
    key = _start_errors(engine, tmp_path, suffix, "err-nomsg")
    try:
        engine.bpmn_error(_fetch(engine, key, "contract-error-reserve").id, "w-error", "OUT_OF_STOCK")
        variables = engine.instance(key).variables
        assert variables["errorCode"] == "OUT_OF_STOCK" and variables["errorMessage"] is None
    finally:
        engine.cancel(key, "test finished")


def test_a_bpmn_error_needs_the_lock_of_the_worker(engine, tmp_path, suffix):
    from pflow.ports.process import TaskLockedByOtherWorker, TaskNotFound

    key = _start_errors(engine, tmp_path, suffix, "err-lock")
    try:
        task = _fetch(engine, key, "contract-error-reserve")
        with pytest.raises(TaskLockedByOtherWorker):
            engine.bpmn_error(task.id, "someone-else", "OUT_OF_STOCK")
        with pytest.raises(TaskNotFound):
            engine.bpmn_error(str(uuid.uuid4()), "w-error", "OUT_OF_STOCK")
        assert [t.activity_id for t in engine.automated_steps(key)] == ["Reserve"]  # nothing moved
        assert engine.open_tasks(key) == []
    finally:
        engine.cancel(key, "test finished")


def test_a_worker_step_of_a_called_process_completes_or_raises_an_error_the_caller_catches(engine, tmp_path,
                                                                                          suffix):
    engine.deploy(_file(tmp_path, "call-error.bpmn", suffix))
    shipped, failed = f"order-ok-{suffix}", f"order-err-{suffix}"
    for key in (shipped, failed):
        engine.start(f"contract_order_{suffix}", key, {"item": "desk"})
    try:
        # The called instance's worker step is the ticket's: found by the caller's business key.
        (step,) = engine.automated_steps(shipped)
        assert step.activity_id == "Ship" and step.business_key == shipped
        ship = _fetch(engine, shipped, "contract-call-ship")
        assert ship.variables.get("item", "desk") == "desk"
        engine.complete(ship.id, "w-error", {"reference": "R-1"})
        view = engine.instance(shipped)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "End_Fulfilled")
        assert view.variables["reference"] == "R-1"  # camunda:out

        ship = _fetch(engine, failed, "contract-call-ship")
        engine.bpmn_error(ship.id, "w-error", "OUT_OF_STOCK", error_message="no desks left")
        (apologise,) = engine.open_tasks(failed)
        assert (apologise.definition_key, apologise.candidate_groups) == ("Apologise", ("managers",))
        assert engine.automated_steps(failed) == []
        assert engine.instance(failed).variables["why"] == "no desks left"
        engine.complete_task(apologise.id, {}, completed_by="mia")
        view = engine.instance(failed)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "End_Apologised")
    finally:
        for key in (shipped, failed):
            engine.cancel(key, "test finished")
