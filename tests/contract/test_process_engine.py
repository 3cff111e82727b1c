"""The process ports' contract (``ProcessEngine`` + ``ExternalTasks``), run on every engine adapter:
memory, embedded (SQLite), embedded on PostgreSQL, and Camunda 7.

Every test deploys its processes under keys and topics of its own (a fresh suffix), so on a shared
Camunda it never sees another run's definitions, instances or tasks; external tasks are fetched by
business key for the same reason. Real time with short locks, so the assertions hold on a real engine.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pflow.config import REPO_ROOT
from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable, NotFound
from pflow.ports.process import (
    DeploymentRejected,
    ExternalTasks,
    InstanceState,
    ProcessEngine,
    TaskClaimedByOther,
    TaskLockedByOtherWorker,
    TaskNotFound,
)
from tests.support import ENGINES, make_engine, make_unreachable_engine, wait_until

HERE = Path(__file__).parent / "bpmn"
SHIPPED = REPO_ROOT / "deploy" / "workflows"
SHIPPED_TOPIC = "ticket-processing"


@pytest.fixture(params=ENGINES)
def engine_kind(request):
    return request.param


@pytest.fixture
def engine(engine_kind, tmp_path):
    e = make_engine(engine_kind, tmp_path)
    yield e
    e.close()


class Names:
    """Process keys, topics and business keys of one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.suffix = uuid.uuid4().hex[:10]
        self.tmp = tmp_path
        self.keys: list[str] = []

    def key(self, label: str = "t") -> str:
        k = f"contract-{label}-{self.suffix}-{len(self.keys)}"
        self.keys.append(k)
        return k

    def file(self, template: str, replacements: dict[str, str], name: str | None = None) -> Path:
        """A copy of a BPMN file with names replaced (process ids, topics, anything else)."""
        xml = ((HERE / template) if (HERE / template).exists() else (SHIPPED / template)).read_text(encoding="utf-8")
        for old, new in replacements.items():
            assert old in xml, f"{old!r} not in {template}"
            xml = xml.replace(old, new)
        path = self.tmp / (name or f"{uuid.uuid4().hex[:8]}-{template}")
        path.write_text(xml, encoding="utf-8")
        return path

    # the test processes, under this test's names
    @property
    def steps_key(self) -> str:
        return f"contract_steps_{self.suffix}"

    @property
    def topic(self) -> str:
        return f"contract-topic-{self.suffix}"

    def steps(self, **extra: str) -> Path:
        return self.file("two-steps.bpmn", {'id="contract_steps"': f'id="{self.steps_key}"',
                                            "contract-topic": self.topic, **extra})

    @property
    def assignment_key(self) -> str:
        return f"contract_assignment_{self.suffix}"

    def assignment(self) -> Path:
        return self.file("assignment.bpmn", {'id="contract_assignment"': f'id="{self.assignment_key}"'})

    def shipped(self, name: str, process_key: str) -> tuple[Path, str]:
        """A shipped BPMN with its process key and topic made this test's own."""
        key = f"{process_key}_{self.suffix}"
        return self.file(f"{name}.bpmn", {f'id="{process_key}"': f'id="{key}"',
                                          f'camunda:topic="{SHIPPED_TOPIC}"': f'camunda:topic="{self.topic}"'}), key


@pytest.fixture
def names(engine, tmp_path):
    n = Names(tmp_path)
    yield n
    for k in n.keys:  # a shared engine stays clean
        try:
            engine.cancel(k, "test finished")
        except Exception:
            pass


def fetch_one(engine, names, key, worker="w1", lock_ms=30_000, wait_ms=0):
    tasks = engine.fetch_and_lock(worker, [names.topic], max_tasks=1, lock_duration_ms=lock_ms, wait_ms=wait_ms,
                                  business_key=key)
    return tasks[0] if tasks else None


def fetch_soon(engine, names, key, worker="w1", lock_ms=30_000, timeout=10.0):
    return wait_until(lambda: fetch_one(engine, names, key, worker, lock_ms), timeout=timeout,
                      message=f"no external task for {key} fetched by {worker}")


def only_task(engine, key, definition_key=None):
    tasks = wait_until(lambda: engine.open_tasks(key), message=f"no open task for {key}")
    if definition_key is not None:
        tasks = [t for t in tasks if t.definition_key == definition_key]
    assert len(tasks) == 1, tasks
    return tasks[0]


def ended(engine, key):
    return wait_until(lambda: (v := engine.instance(key)) and v.state != InstanceState.ACTIVE and v,
                      message=f"the instance of {key} did not end")


def to_automated_step(engine, names, key):
    """Start the two-step process and complete both user tasks: the automated step is next."""
    engine.start(names.steps_key, key, {"requester": "alice"})
    engine.complete_task(only_task(engine, key, "First").id, {"decision": "approve"}, completed_by="bob")
    engine.complete_task(only_task(engine, key, "Second").id, {}, completed_by="dave")
    return fetch_soon(engine, names, key)


# ------------------------------------------------------------------ the adapters

def test_every_adapter_implements_both_ports(engine):
    assert isinstance(engine, ProcessEngine) and isinstance(engine, ExternalTasks)
    engine.check()


# ------------------------------------------------------------------ deploy by content, versions

def test_deploy_is_by_content_and_never_rolls_back_to_an_older_file(engine, names):
    v1_file = names.steps()
    [first] = engine.deploy(v1_file)
    assert (first.process_key, first.created) == (names.steps_key, True)
    [again] = engine.deploy(v1_file)
    assert not again.created and again.definition_id == first.definition_id and again.version == first.version
    assert engine.latest_definition_id(names.steps_key) == first.definition_id

    [second] = engine.deploy(names.steps(**{'name="Second Step"': 'name="Second Step, revised"'}))
    assert second.created and second.version > first.version and second.definition_id != first.definition_id
    assert engine.latest_definition_id(names.steps_key) == second.definition_id

    # The older content once more (a stale `pflow deploy`, a restart with an old file): no new version,
    # and the newest stays the newest.
    [stale] = engine.deploy(names.steps())
    assert not stale.created and stale.definition_id == first.definition_id
    assert engine.latest_definition_id(names.steps_key) == second.definition_id
    assert 'Second Step, revised' in engine.definition_xml(second.definition_id)
    assert 'Second Step, revised' not in engine.definition_xml(first.definition_id)


def test_a_file_with_several_processes_is_one_deployment(engine, names):
    path = names.file("two-processes.bpmn", {"contract_pair": f"contract_pair_{names.suffix}"})
    deployed = engine.deploy(path)
    assert sorted(d.process_key for d in deployed) == [f"contract_pair_{names.suffix}_a",
                                                       f"contract_pair_{names.suffix}_b"]
    assert len({d.deployment_id for d in deployed}) == 1 and all(d.created for d in deployed)
    assert all(not d.created for d in engine.deploy(path))


def test_broken_files_are_refused(engine, names, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions this is not xml")
    with pytest.raises(DeploymentRejected):
        engine.deploy(broken)
    with pytest.raises(DeploymentRejected):
        engine.deploy(tmp_path / "missing.bpmn")


def test_unknown_definitions_and_processes_are_not_found(engine, names):
    with pytest.raises(NotFound):
        engine.latest_definition_id(f"no_such_process_{names.suffix}")
    with pytest.raises(NotFound):
        engine.start(f"no_such_process_{names.suffix}", names.key(), {})
    with pytest.raises(NotFound):
        engine.definition_xml(f"no_such_process_{names.suffix}:1:abc")
    assert engine.instance(names.key()) is None
    assert engine.open_tasks(names.key()) == [] and engine.automated_steps(names.key()) == []
    assert engine.completed_tasks(names.key()) == []


def test_a_running_instance_finishes_on_the_version_it_started_on(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    started = engine.start(names.steps_key, key, {"requester": "alice"})
    # Version 2 renames the second step; the running instance keeps version 1's.
    [v2] = engine.deploy(names.steps(**{'id="Second"': 'id="SecondRenamed"',
                                        'targetRef="Second"': 'targetRef="SecondRenamed"',
                                        'sourceRef="Second"': 'sourceRef="SecondRenamed"'}))
    assert v2.created and v2.definition_id != started.definition_id
    engine.complete_task(only_task(engine, key).id, {"decision": "approve"}, completed_by="bob")
    second = only_task(engine, key)
    assert second.definition_key == "Second"
    assert engine.instance(key).definition_id == started.definition_id
    # A new instance starts on the latest version, with the renamed task id.
    other = names.key()
    assert engine.start(names.steps_key, other, {"requester": "erin"}).definition_id == v2.definition_id
    engine.complete_task(only_task(engine, other).id, {"decision": "approve"}, completed_by="bob")
    assert only_task(engine, other).definition_key == "SecondRenamed"


# ------------------------------------------------------------------ scoping

def test_two_processes_in_one_engine_never_see_each_others_tasks(engine, names):
    """The purchase and access processes both name a task ``ManagerApproval`` and both hand approved
    tickets to the same topic; their instances run side by side in one engine."""
    purchase_file, purchase = names.shipped("purchase-request", "purchase_request")
    access_file, access = names.shipped("access-request", "access_request")
    engine.deploy(purchase_file)
    engine.deploy(access_file)
    p, a = names.key("p"), names.key("a")
    engine.start(purchase, p, {"amount": 10, "requester": "alice"})
    engine.start(access, a, {"requester": "erin"})
    [p_task] = engine.open_tasks(p)
    a_tasks = wait_until(lambda: len(engine.open_tasks(a)) == 2 and engine.open_tasks(a))
    a_manager = next(t for t in a_tasks if t.definition_key == "ManagerApproval")
    assert (p_task.definition_key, p_task.process_key, p_task.business_key) == ("ManagerApproval", purchase, p)
    assert {t.process_key for t in a_tasks} == {access} and {t.business_key for t in a_tasks} == {a}
    assert p_task.id != a_manager.id and p_task.process_instance_id != a_manager.process_instance_id
    assert engine.instance(p).process_key == purchase and engine.instance(a).process_key == access

    engine.complete_task(p_task.id, {"manager_decision": "approve"}, completed_by="bob")
    assert len(engine.open_tasks(a)) == 2 and engine.open_tasks(p) == []
    assert engine.automated_steps(a) == []
    [order] = wait_until(lambda: engine.automated_steps(p))
    assert order.activity_id == "PlaceOrder"
    assert fetch_one(engine, names, a) is None
    fetched = fetch_soon(engine, names, p)
    assert fetched.id == order.id
    engine.complete(fetched.id, "w1")
    assert ended(engine, p).end_activity_id == "Completed"
    assert engine.instance(a).state == InstanceState.ACTIVE and len(engine.open_tasks(a)) == 2
    assert [c.definition_key for c in engine.completed_tasks(a)] == []


def test_one_file_with_two_processes_starts_each_on_its_own_definition(engine, names):
    deployed = {d.process_key: d for d in engine.deploy(
        names.file("two-processes.bpmn", {"contract_pair": f"contract_pair_{names.suffix}"}))}
    a, b = names.key("a"), names.key("b")
    pa, pb = f"contract_pair_{names.suffix}_a", f"contract_pair_{names.suffix}_b"
    assert engine.start(pa, a, {}).definition_id == deployed[pa].definition_id
    assert engine.start(pb, b, {}).definition_id == deployed[pb].definition_id
    [task_a], [task_b] = engine.open_tasks(a), engine.open_tasks(b)
    assert (task_a.name, task_a.process_key) == ("Step of A", pa)
    assert (task_b.name, task_b.process_key) == ("Step of B", pb)
    engine.complete_task(task_b.id, {}, completed_by="bob")
    assert ended(engine, b).end_activity_id == "EndB"
    assert [t.id for t in engine.open_tasks(a)] == [task_a.id]


def test_start_is_idempotent_per_business_key(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    first = engine.start(names.steps_key, key, {"requester": "alice"})
    second = engine.start(names.steps_key, key, {"requester": "alice"})
    assert first.created and not second.created
    assert first.id == second.id and (second.business_key, second.process_key) == (key, names.steps_key)
    assert len(engine.open_tasks(key)) == 1
    # When it started (reconciliation leaves a young instance of a draft alone: a submit may take it).
    started = engine.instance(key).started_at
    assert started is not None and abs((datetime.now(timezone.utc) - started).total_seconds()) < 60


def test_concurrent_starts_of_one_key_start_one_instance(engine, engine_kind, names):
    if engine_kind == "camunda":
        pytest.skip("Camunda 7 keeps no unique business key, so two racing starts can both create an "
                    "instance; the ticket service serializes submissions of one ticket itself")
    engine.deploy(names.steps())
    key = names.key()
    results, barrier = [], threading.Barrier(3)

    def start():
        barrier.wait()
        try:
            results.append(engine.start(names.steps_key, key, {"requester": "alice"}))
        except ConcurrencyConflict:
            results.append(None)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if r is not None]
    assert sum(r.created for r in started) == 1 and len({r.id for r in started}) == 1
    assert len(engine.open_tasks(key)) == 1


def test_cancel_stops_the_instance_and_a_new_start_begins_again(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    first = engine.start(names.steps_key, key, {"requester": "alice"})
    assert engine.cancel(key, "withdrawn by alice") is True
    assert engine.open_tasks(key) == []
    assert engine.instance(key).state == InstanceState.TERMINATED
    assert engine.cancel(key, "again") is False
    second = engine.start(names.steps_key, key, {"requester": "alice"})
    assert second.created and second.id != first.id
    assert engine.instance(key).instance_id == second.id


# ------------------------------------------------------------------ the shipped processes

@pytest.mark.parametrize("amount, finance", [(500, False), (1000, False), (1001, True), (5000, True)])
def test_purchase_request_goes_to_finance_only_above_the_threshold(engine, names, amount, finance):
    path, process = names.shipped("purchase-request", "purchase_request")
    engine.deploy(path)
    key = names.key()
    engine.start(process, key, {"amount": amount, "requester": "alice", "title": "Laptop"})
    manager = only_task(engine, key)
    assert (manager.definition_key, manager.name, manager.candidate_groups) == (
        "ManagerApproval", "Manager Approval", ("managers",))
    [field] = manager.form
    assert (field.id, field.type, field.required) == ("manager_decision", "enum", True)
    assert [v for v, _ in field.values] == ["approve", "reject"] and manager.decision_field == field
    engine.complete_task(manager.id, {"manager_decision": "approve"}, completed_by="bob")
    if finance:
        step = only_task(engine, key)
        assert (step.definition_key, step.candidate_groups) == ("FinanceApproval", ("finance",))
        assert fetch_one(engine, names, key) is None
        engine.complete_task(step.id, {"finance_decision": "approve"}, completed_by="fay")
    order = fetch_soon(engine, names, key)
    assert (order.activity_id, order.topic, order.business_key) == ("PlaceOrder", names.topic, key)
    assert order.variables["amount"] == amount and order.activity_name == "Place Order"
    assert engine.open_tasks(key) == []
    engine.complete(order.id, "w1", {"order_reference": "PO-1"})
    view = ended(engine, key)
    assert view.state == InstanceState.COMPLETED and view.end_activity_id == "Completed"
    assert ("FinanceApproval" in view.completed_activity_ids) is finance
    assert view.variables["order_reference"] == "PO-1"
    assert [c.completed_by for c in engine.completed_tasks(key)] == (["bob", "fay"] if finance else ["bob"])


def test_a_rejection_at_the_second_level_ends_at_the_rejected_end_event(engine, names):
    path, process = names.shipped("purchase-request", "purchase_request")
    [deployed] = engine.deploy(path)
    key = names.key()
    engine.start(process, key, {"amount": 5000, "requester": "alice"})
    engine.complete_task(only_task(engine, key).id, {"manager_decision": "approve"}, completed_by="bob")
    engine.complete_task(only_task(engine, key, "FinanceApproval").id,
                         {"finance_decision": "reject", "comment": "over budget"}, completed_by="fay")
    view = ended(engine, key)
    assert view.state == InstanceState.COMPLETED and view.end_activity_id == "Rejected"
    assert engine.model(deployed.definition_id).outcomes["Rejected"] == "rejected"
    assert view.variables["comment"] == "over budget"
    assert fetch_one(engine, names, key) is None


def test_an_order_the_worker_refuses_ends_the_purchase_request_at_order_refused(engine, names):
    """The shipped purchase request catches the BPMN error ORDER_REFUSED on Place Order (an error boundary
    event) and ends at "Order refused", whose outcome is rejected."""
    path, process = names.shipped("purchase-request", "purchase_request")
    [deployed] = engine.deploy(path)
    key = names.key()
    engine.start(process, key, {"amount": 300, "requester": "alice", "title": "Chairs [bpmn-error]"})
    engine.complete_task(only_task(engine, key).id, {"manager_decision": "approve"}, completed_by="bob")
    order = fetch_soon(engine, names, key)
    assert order.activity_id == "PlaceOrder" and order.variables["title"] == "Chairs [bpmn-error]"
    engine.bpmn_error(order.id, "w1", "ORDER_REFUSED", error_message="the supplier refused the order")
    view = ended(engine, key)
    assert view.state == InstanceState.COMPLETED and view.end_activity_id == "OrderRefused"
    assert "Completed" not in view.completed_activity_ids
    model = engine.model(deployed.definition_id)
    assert model.outcomes["OrderRefused"] == "rejected" and model.outcomes["Completed"] == "completed"
    assert fetch_one(engine, names, key) is None


def test_access_request_waits_for_both_groups_in_parallel(engine, names):
    path, process = names.shipped("access-request", "access_request")
    engine.deploy(path)
    key = names.key()
    engine.start(process, key, {"requester": "alice", "system": "erp"})
    tasks = wait_until(lambda: len(engine.open_tasks(key)) == 2 and engine.open_tasks(key))
    by_key = {t.definition_key: t for t in tasks}
    assert set(by_key) == {"ManagerApproval", "SecurityReview"}
    assert by_key["SecurityReview"].candidate_groups == ("security",)
    view = engine.instance(key)
    assert set(view.active_activity_ids) == {"ManagerApproval", "SecurityReview"}
    assert view.activity_names["SecurityReview"] == "Security Review"

    engine.complete_task(by_key["SecurityReview"].id, {"security_decision": "approve"}, completed_by="sam")
    assert [t.definition_key for t in engine.open_tasks(key)] == ["ManagerApproval"]
    assert fetch_one(engine, names, key) is None  # one approval is not enough
    engine.complete_task(by_key["ManagerApproval"].id, {"manager_decision": "approve"}, completed_by="bob")
    grant = fetch_soon(engine, names, key)
    assert grant.activity_id == "GrantAccess"
    engine.complete(grant.id, "w1")
    assert ended(engine, key).end_activity_id == "Completed"
    assert sorted(c.completed_by for c in engine.completed_tasks(key)) == ["bob", "sam"]


def test_access_request_is_rejected_when_one_group_rejects(engine, names):
    path, process = names.shipped("access-request", "access_request")
    engine.deploy(path)
    key = names.key()
    engine.start(process, key, {"requester": "alice"})
    tasks = {t.definition_key: t for t in wait_until(lambda: len(engine.open_tasks(key)) == 2
                                                     and engine.open_tasks(key))}
    engine.complete_task(tasks["ManagerApproval"].id, {"manager_decision": "approve"}, completed_by="bob")
    engine.complete_task(tasks["SecurityReview"].id, {"security_decision": "reject"}, completed_by="sam")
    assert ended(engine, key).end_activity_id == "Rejected"


# ------------------------------------------------------------------ who may act, when, with which form

def test_plain_and_manual_tasks_pass_through_as_on_camunda(engine, names):
    """Camunda Modeler's default shape (bpmn:task) and a manual task are done outside the engine: Camunda 7 passes
    straight through both, and so does every engine here; neither is ever an open step."""
    key_ = f"contract_pass_{names.suffix}"
    engine.deploy(names.file("pass-through.bpmn", {'id="contract_pass"': f'id="{key_}"'}))
    key = names.key()
    engine.start(key_, key, {"requester": "alice"})
    review = only_task(engine, key)
    assert review.definition_key == "Review"
    engine.complete_task(review.id, {}, completed_by="bob")
    assert ended(engine, key).state == InstanceState.COMPLETED
    assert engine.open_tasks(key) == []


def test_candidates_assignee_and_due_dates_are_resolved_as_camunda_does(engine, names):
    engine.deploy(names.assignment())
    key = names.key()
    engine.start(names.assignment_key, key, {"requester": "erin", "reviewers": "security, audit",
                                             "amount": 10, "priority": "low"})
    tasks = {t.definition_key: t for t in wait_until(lambda: len(engine.open_tasks(key)) == 3
                                                     and engine.open_tasks(key))}
    confirm, named, routed = tasks["ByAssignee"], tasks["ByUsers"], tasks["ByGroups"]
    assert confirm.assignee == "erin" and confirm.candidate_users == () and confirm.candidate_groups == ()
    assert named.assignee is None and set(named.candidate_users) == {"alice", "bob"}
    assert set(routed.candidate_groups) == {"security", "audit"} and routed.assignee is None
    # A date-time as written (the engine's time zone may differ from ours: compare the day), and a
    # duration counted from the task's creation.
    assert confirm.due is not None and (confirm.due.year, confirm.due.month) == (2030, 1)
    assert confirm.due.day in (1, 2, 3)
    assert named.due is not None and named.created_at is not None
    assert abs((named.due - named.created_at) - timedelta(days=3)) < timedelta(minutes=2)
    assert routed.due is None
    assert engine.task(routed.id).candidate_groups == routed.candidate_groups


def test_set_due_gives_an_open_task_a_due_time_and_keeps_the_rest(engine, names):
    """What PFlow does when the ticket type gives a due time the BPMN does not: the task keeps its name,
    candidates and assignee (Camunda's PUT /task/{id} would clear what it is not sent)."""
    engine.deploy(names.assignment())
    key = names.key()
    engine.start(names.assignment_key, key, {"requester": "erin", "reviewers": "security, audit",
                                             "amount": 10, "priority": "low"})
    tasks = {t.definition_key: t for t in wait_until(lambda: len(engine.open_tasks(key)) == 3
                                                     and engine.open_tasks(key))}
    routed, confirm = tasks["ByGroups"], tasks["ByAssignee"]
    assert routed.due is None
    due = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    engine.set_due(routed.id, due)
    engine.set_due(confirm.id, due + timedelta(hours=1))
    again = engine.task(routed.id)
    assert again.due == due
    assert (again.name, again.candidate_groups, again.assignee) == (routed.name, routed.candidate_groups, None)
    assigned = engine.task(confirm.id)
    assert assigned.due == due + timedelta(hours=1) and assigned.assignee == "erin"
    # kept when the instance moves on elsewhere
    engine.complete_task(tasks["ByUsers"].id, {}, completed_by="alice")
    assert {t.id: t.due for t in engine.open_tasks(key)}[routed.id] == due
    with pytest.raises(TaskNotFound):
        engine.set_due(str(uuid.uuid4()), due)
    engine.complete_task(routed.id, {}, completed_by="bob")
    with pytest.raises(TaskNotFound):
        engine.set_due(routed.id, due)


@pytest.mark.parametrize("variables, end", [
    ({"amount": Decimal("1000.50"), "priority": "low"}, "Big"),
    ({"amount": 1000, "priority": "high"}, "Urgent"),
    ({"amount": 999.5, "priority": "low"}, "Normal"),
])
def test_typed_variables_drive_conditions(engine, names, variables, end):
    engine.deploy(names.assignment())
    key = names.key()
    engine.start(names.assignment_key, key, {"requester": "erin", "reviewers": "audit", "flag": True,
                                             "nothing": None, "needed_by": date(2030, 5, 17), **variables})
    for task in wait_until(lambda: len(engine.open_tasks(key)) == 3 and engine.open_tasks(key)):
        engine.complete_task(task.id, {}, completed_by="bob")
    view = ended(engine, key)
    assert view.end_activity_id == end
    assert view.variables["flag"] is True and view.variables["nothing"] is None
    assert str(view.variables["needed_by"]).startswith("2030-05-17")
    assert float(view.variables["amount"]) == float(variables["amount"])


def test_forms_and_properties_come_from_the_bpmn(engine, names):
    [deployed] = engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    first = only_task(engine, key)
    decision, note = first.form
    assert (decision.id, decision.label, decision.type, decision.required) == ("decision", "Decision", "enum", True)
    assert decision.values == (("approve", "Approve"), ("reject", "Reject"))
    assert (note.id, note.type, note.required, note.default) == ("note", "string", False, "none")
    assert first.candidate_groups == ("team",)
    model = engine.model(deployed.definition_id)
    assert model.process_key == names.steps_key
    assert model.properties == {"pflow.fourEyes": "false"}
    assert model.outcomes == {"Done": "completed", "Refused": "rejected"}
    assert model.topics == (names.topic,)
    assert set(model.candidate_groups) == {"team", "leads"}
    assert model.task_properties["First"] == {"pflow.step": "first"}


# ------------------------------------------------------------------ completing user tasks

def test_completing_records_who_and_passes_variables(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    first = only_task(engine, key)
    engine.complete_task(first.id, {"decision": "approve", "comment": "fine"}, completed_by="bob")
    second = only_task(engine, key)
    assert second.definition_key == "Second" and set(second.candidate_groups) == {"team", "leads"}
    [done] = engine.completed_tasks(key)
    assert (done.id, done.definition_key, done.name, done.completed_by) == (first.id, "First", "First Step", "bob")
    assert done.completed_at is not None
    assert engine.instance(key).variables["decision"] == "approve"
    with pytest.raises(TaskNotFound):
        engine.task(first.id)


def test_a_rejection_at_the_first_step_ends_at_its_outcome_event(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    engine.complete_task(only_task(engine, key).id, {"decision": "reject"}, completed_by="bob")
    view = ended(engine, key)
    assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "Refused")
    assert "Second" not in view.completed_activity_ids


def test_completing_an_unknown_or_finished_user_task_fails(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    with pytest.raises(TaskNotFound):
        engine.complete_task(str(uuid.uuid4()), {"decision": "approve"}, completed_by="bob")
    with pytest.raises(TaskNotFound):
        engine.task(str(uuid.uuid4()))
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    engine.complete_task(task.id, {"decision": "approve"}, completed_by="bob")
    with pytest.raises(TaskNotFound):
        engine.complete_task(task.id, {"decision": "reject"}, completed_by="dave")


def test_two_concurrent_completions_one_wins(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def complete(decision, who):
        barrier.wait()
        try:
            engine.complete_task(task.id, {"decision": decision}, completed_by=who)
            outcomes.append(who)
        except (TaskNotFound, ConcurrencyConflict):
            outcomes.append("lost")

    threads = [threading.Thread(target=complete, args=a) for a in (("approve", "bob"), ("reject", "dave"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and outcomes.count("lost") == 1
    [winner] = [o for o in outcomes if o != "lost"]
    assert [c.completed_by for c in engine.completed_tasks(key)] == [winner]


# ------------------------------------------------------------------ who holds a task

def test_claim_unclaim_and_reassign_a_group_task(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    assert task.assignee is None
    engine.claim(task.id, "bob")
    assert engine.task(task.id).assignee == "bob" and only_task(engine, key).assignee == "bob"
    engine.claim(task.id, "bob")  # again by the holder: nothing changes
    with pytest.raises(TaskClaimedByOther) as refused:
        engine.claim(task.id, "dave")
    assert refused.value.assignee == "bob" and isinstance(refused.value, ConcurrencyConflict)
    assert engine.task(task.id).assignee == "bob"
    engine.unclaim(task.id)
    assert engine.task(task.id).assignee is None
    engine.unclaim(task.id)  # nobody holds it: still fine
    engine.claim(task.id, "dave")
    engine.set_assignee(task.id, "erin")  # an admin's reassignment takes it from whoever holds it
    assert engine.task(task.id).assignee == "erin"
    engine.set_assignee(task.id, None)
    assert engine.task(task.id).assignee is None
    # the candidates stay what the process said, and the claim survives the rest of the instance moving on
    engine.claim(task.id, "bob")
    assert set(engine.task(task.id).candidate_groups) == {"team"}
    engine.complete_task(task.id, {"decision": "approve"}, completed_by="bob")
    [done] = engine.completed_tasks(key)
    assert done.completed_by == "bob"
    assert only_task(engine, key).assignee is None  # the next step is offered afresh


def test_a_reassigned_task_is_completed_by_its_new_assignee(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    engine.claim(task.id, "bob")
    engine.set_assignee(task.id, "dave")
    engine.complete_task(task.id, {"decision": "approve"}, completed_by="dave")
    assert [c.completed_by for c in engine.completed_tasks(key)] == ["dave"]


def test_claiming_unknown_or_finished_tasks_is_not_found(engine, names):
    engine.deploy(names.steps())
    missing = str(uuid.uuid4())
    for call in (lambda: engine.claim(missing, "bob"), lambda: engine.unclaim(missing),
                 lambda: engine.set_assignee(missing, "bob")):
        with pytest.raises(TaskNotFound):
            call()
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    engine.complete_task(task.id, {"decision": "approve"}, completed_by="bob")
    with pytest.raises(TaskNotFound):
        engine.claim(task.id, "bob")
    with pytest.raises(TaskNotFound):
        engine.set_assignee(task.id, None)


def test_two_concurrent_claims_one_wins(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    task = only_task(engine, key)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def claim(who):
        barrier.wait()
        try:
            engine.claim(task.id, who)
            outcomes.append(who)
        except TaskClaimedByOther:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(who,)) for who in ("bob", "dave")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] in ("bob", "dave") and outcomes.count("lost") == 1
    [winner] = [o for o in outcomes if o != "lost"]
    assert engine.task(task.id).assignee == winner


# ------------------------------------------------------------------ external tasks

def test_automated_steps_show_the_open_external_task(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    assert (task.topic, task.activity_id, task.activity_name, task.worker_id) == (
        names.topic, "Automated", "Automated Step", "w1")
    assert task.retries is None and task.variables["requester"] == "alice"
    [step] = engine.automated_steps(key)
    assert step.id == task.id and step.worker_id == "w1"
    view = engine.instance(key)
    assert view.active_activity_ids == ("Automated",) and view.activity_names["Automated"] == "Automated Step"
    engine.complete(task.id, "w1", {"reference": "R-1"})
    assert engine.automated_steps(key) == []
    view = ended(engine, key)
    assert view.end_activity_id == "Done" and view.variables["reference"] == "R-1"


def test_a_locked_task_is_not_given_to_another_worker(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    assert fetch_one(engine, names, key, "w2") is None
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete(task.id, "w2")
    engine.complete(task.id, "w1")
    with pytest.raises(TaskNotFound):
        engine.complete(task.id, "w1")


def test_concurrent_fetches_lock_a_task_for_one_worker_only(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    engine.complete_task(only_task(engine, key).id, {"decision": "approve"}, completed_by="bob")
    engine.complete_task(only_task(engine, key).id, {}, completed_by="dave")
    wait_until(lambda: engine.automated_steps(key))
    got: dict[str, list] = {}
    barrier = threading.Barrier(4)

    def fetch(worker):
        barrier.wait()
        got[worker] = engine.fetch_and_lock(worker, [names.topic], max_tasks=5, lock_duration_ms=30_000,
                                            business_key=key)

    threads = [threading.Thread(target=fetch, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [w for w, tasks in got.items() if tasks]
    assert len(winners) == 1 and len(got[winners[0]]) == 1
    engine.complete(got[winners[0]][0].id, winners[0])


def test_an_expired_lock_lets_another_worker_take_the_task(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    engine.unlock(task.id, "w1")
    task = fetch_soon(engine, names, key, "w1", lock_ms=1000)
    time.sleep(1.2)
    again = fetch_soon(engine, names, key, "w2")
    assert again.id == task.id and again.worker_id == "w2"
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete(task.id, "w1")
    engine.complete(task.id, "w2")


def test_extending_a_lock_keeps_the_task(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    engine.unlock(task.id, "w1")
    task = fetch_soon(engine, names, key, "w1", lock_ms=1000)
    engine.extend_lock(task.id, "w1", 5000)
    time.sleep(1.3)
    assert fetch_one(engine, names, key, "w2") is None
    with pytest.raises(TaskLockedByOtherWorker):
        engine.extend_lock(task.id, "w2", 5000)
    engine.complete(task.id, "w1")


def test_an_external_task_is_looked_up_by_id_with_its_holder_retries_and_error(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    seen = engine.external_task(task.id)
    assert (seen.id, seen.topic, seen.business_key, seen.activity_id) == (task.id, names.topic, key, "Automated")
    assert seen.process_instance_id == task.process_instance_id and seen.worker_id == "w1"
    assert seen.lock_expires_at is not None and seen.retries is None
    engine.fail(task.id, "w1", "backend down", retries=2, retry_timeout_ms=0)
    failed = engine.external_task(task.id)
    assert (failed.worker_id, failed.lock_expires_at, failed.retries, failed.error_message) == (
        None, None, 2, "backend down")
    again = fetch_soon(engine, names, key, "w2")
    engine.complete(again.id, "w2")
    with pytest.raises(TaskNotFound):
        engine.external_task(task.id)
    with pytest.raises(TaskNotFound):
        engine.external_task(str(uuid.uuid4()))


def test_a_failure_with_retries_makes_the_task_wait_then_come_back(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    engine.fail(task.id, "w1", "backend down", retries=2, retry_timeout_ms=1000)
    assert fetch_one(engine, names, key, "w2") is None
    again = fetch_soon(engine, names, key, "w2")
    assert again.id == task.id and again.retries == 2
    engine.complete(again.id, "w2")
    assert ended(engine, key).state == InstanceState.COMPLETED


def test_unlock_gives_the_task_back_at_once_and_keeps_its_retries(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    engine.fail(task.id, "w1", "backend down", retries=2, retry_timeout_ms=0)
    again = fetch_soon(engine, names, key, "w1")
    engine.unlock(again.id, "w1")
    third = fetch_one(engine, names, key, "w2")
    assert third is not None and third.id == task.id and third.retries == 2
    engine.complete(third.id, "w2")


def test_no_retries_left_is_an_incident_until_the_step_is_retried(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    task = to_automated_step(engine, names, key)
    engine.fail(task.id, "w1", "backend down", retries=0, retry_timeout_ms=0, error_details="trace")
    view = wait_until(lambda: (v := engine.instance(key)) and v.incidents and v)
    assert view.state == InstanceState.INCIDENT and view.incidents == ("Automated",)
    time.sleep(0.3)
    assert fetch_one(engine, names, key, "w2") is None
    [step] = engine.automated_steps(key)
    assert step.id == task.id and step.retries == 0 and "backend down" in (step.error_message or "")
    engine.retry_step(task.id, 3)
    assert wait_until(lambda: engine.instance(key).state == InstanceState.ACTIVE)
    again = fetch_soon(engine, names, key, "w2")
    assert again.id == task.id and again.retries == 3
    engine.complete(again.id, "w2")
    assert ended(engine, key).state == InstanceState.COMPLETED


def _same_as_the_single_queries(engine, key, *, history=False):
    """``progress`` in one read says what the separate queries say (the port's reference composition)."""
    read = engine.progress(key, history=history)
    composed = ProcessEngine.progress(engine, key, history=history)
    assert read == composed
    return read


def test_progress_reads_the_instance_its_open_steps_and_history_at_once(engine, names):
    path, process = names.shipped("access-request", "access_request")
    engine.deploy(names.steps())
    engine.deploy(path)
    assert engine.progress(names.key()) is None

    key = names.key()
    engine.start(process, key, {"requester": "alice", "system": "erp"})
    wait_until(lambda: len(engine.open_tasks(key)) == 2)
    read = _same_as_the_single_queries(engine, key)
    assert read.running and read.state == InstanceState.ACTIVE and read.completed is None and read.variables is None
    assert [t.definition_key for t in read.tasks] == [t.definition_key for t in engine.open_tasks(key)]
    assert read.automated == () and read.started_at is not None
    by_key = {t.definition_key: t for t in read.tasks}
    engine.complete_task(by_key["SecurityReview"].id, {"security_decision": "approve", "comment": "ok"},
                         completed_by="sam")
    read = _same_as_the_single_queries(engine, key, history=True)
    assert [t.definition_key for t in read.tasks] == ["ManagerApproval"]
    assert [(c.definition_key, c.completed_by) for c in read.completed] == [("SecurityReview", "sam")]
    assert read.variables["comment"] == "ok" and read.variables["requester"] == "alice"
    engine.complete_task(by_key["ManagerApproval"].id, {"manager_decision": "approve"}, completed_by="bob")
    wait_until(lambda: engine.automated_steps(key))
    read = _same_as_the_single_queries(engine, key)
    assert read.tasks == () and [a.activity_id for a in read.automated] == ["GrantAccess"]
    engine.complete(fetch_soon(engine, names, key).id, "w1")
    ended(engine, key)
    read = _same_as_the_single_queries(engine, key, history=True)
    assert read.state == InstanceState.COMPLETED and not read.running and read.end_activity_id == "Completed"
    assert read.tasks == () and read.automated == () and len(read.completed) == 2

    failing = names.key()
    task = to_automated_step(engine, names, failing)
    engine.fail(task.id, "w1", "backend down", retries=0, retry_timeout_ms=0)
    read = wait_until(lambda: (r := engine.progress(failing)) and r.state == InstanceState.INCIDENT and r)
    assert read.running and [a.retries for a in read.automated] == [0]
    assert _same_as_the_single_queries(engine, failing) == read
    engine.cancel(failing, "test")
    read = _same_as_the_single_queries(engine, failing)
    assert read.state == InstanceState.TERMINATED and not read.running and read.end_activity_id is None


def test_errors_for_unknown_external_tasks(engine):
    missing = str(uuid.uuid4())
    for call in (lambda: engine.complete(missing, "w1"), lambda: engine.retry_step(missing, 1),
                 lambda: engine.unlock(missing, "w1"), lambda: engine.extend_lock(missing, "w1", 1000),
                 lambda: engine.fail(missing, "w1", "x", retries=1, retry_timeout_ms=0)):
        with pytest.raises(TaskNotFound):
            call()


def test_long_polling_returns_as_soon_as_a_task_appears(engine, names):
    engine.deploy(names.steps())
    key = names.key()
    engine.start(names.steps_key, key, {"requester": "alice"})
    engine.complete_task(only_task(engine, key).id, {"decision": "approve"}, completed_by="bob")
    second = only_task(engine, key)
    timer = threading.Timer(0.3, engine.complete_task, args=(second.id, {}), kwargs={"completed_by": "dave"})
    started = time.monotonic()
    timer.start()
    try:
        fetched = engine.fetch_and_lock("w1", [names.topic], lock_duration_ms=10_000, wait_ms=8000, business_key=key)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert len(fetched) == 1 and fetched[0].business_key == key
    assert elapsed < 4.0, f"long poll took {elapsed:.2f}s to return a task that appeared after 0.3s"
    engine.complete(fetched[0].id, "w1")


def test_fetch_without_tasks_waits_then_returns_nothing(engine, names):
    started = time.monotonic()
    assert engine.fetch_and_lock("w1", [names.topic], wait_ms=500, business_key=names.key()) == []
    assert time.monotonic() - started >= 0.4


# ------------------------------------------------------------------ an engine that does not answer

def test_an_unreachable_engine_says_so(engine_kind, tmp_path):
    down = make_unreachable_engine(engine_kind, tmp_path)
    try:
        for call in (down.check, lambda: down.start("p", "k", {}), lambda: down.open_tasks("k"),
                     lambda: down.instance("k"), lambda: down.fetch_and_lock("w", ["t"])):
            with pytest.raises(EngineUnavailable) as err:
                call()
            assert down.name in err.value.message
    finally:
        down.close()

