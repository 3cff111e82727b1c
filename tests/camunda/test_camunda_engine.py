"""The Camunda adapter of the process ports, against the real engine: the shipped processes and small
ones of our own, deployed under process keys of this test session (so no other run's tasks are seen),
typed variables, forms from the deployed XML, candidates and assignee expressions, the end event
reached, deployment by content, business-key uniqueness and lost answers."""

from __future__ import annotations

import contextlib
import threading
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.adapters.camunda import engine as camunda_engine
from pflow.config import REPO_ROOT
from pflow.domain.errors import ConcurrencyConflict, NotFound, ValidationError
from pflow.ports.process import DeploymentRejected, InstanceState, TaskLockedByOtherWorker, TaskNotFound
from tests.camunda import stack as camunda
from tests.support import wait_until

pytestmark = pytest.mark.camunda

WORKFLOWS = REPO_ROOT / "deploy" / "workflows"
RUN = uuid.uuid4().hex[:8]
TOPIC = "ticket-processing"  # the shipped files' topic; fetches are scoped to this run's process keys


def own_key(key: str) -> str:
    return f"e2t{RUN}_{key}"


def own_copy(source: Path, key: str, directory: Path, *, edit=lambda text: text) -> Path:
    """The file with its process under this run's key (same graph, same element ids)."""
    text = source.read_text(encoding="utf-8")
    assert f'"{key}"' in text
    path = directory / source.name
    path.write_text(edit(text.replace(f'"{key}"', f'"{own_key(key)}"')), encoding="utf-8")
    return path


SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_{key}" targetNamespace="http://pflow.example/test">
  <bpmn:process id="{key}" name="Small" isExecutable="true" camunda:historyTimeToLive="P1D">
    <bpmn:startEvent id="Start"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Confirm"/>
    <bpmn:userTask id="Confirm" name="Requester confirms" camunda:assignee="${{requester}}"
        camunda:dueDate="2030-01-02T03:04:05">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="confirmed" label="Confirmed" type="boolean" defaultValue="true"/>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Confirm" targetRef="Pick"/>
    <bpmn:userTask id="Pick" name="{pick}" camunda:candidateUsers="carol, dave" camunda:candidateGroups="ops">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="pflow.fourEyes" value="false"/></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Pick" targetRef="Done"/>
    <bpmn:endEvent id="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def url():
    found = camunda.require_camunda()
    yield found
    delete_deployments(found)  # every test of the module deploys through this fixture's engine


@pytest.fixture(scope="module")
def files(url, tmp_path_factory):
    directory = tmp_path_factory.mktemp("camunda-processes")
    found = {
        "purchase": own_copy(WORKFLOWS / "purchase-request.bpmn", "purchase_request", directory),
        "access": own_copy(WORKFLOWS / "access-request.bpmn", "access_request", directory),
        "ticket": own_copy(WORKFLOWS / "ticket-process.bpmn", "ticket_approval", directory),
    }
    small = directory / "small.bpmn"
    small.write_text(SMALL.format(key=own_key("small"), pick="Pick it up"), encoding="utf-8")
    found["small"] = small
    return found


def delete_deployments(url: str) -> None:
    """This run's deployments, with their instances and history."""
    for deployment in requests.get(f"{url}/deployment", params={"nameLike": f"pflow-e2t{RUN}_%"}, auth=camunda.AUTH, timeout=10).json():
        if deployment.get("name", "").startswith(f"pflow-e2t{RUN}_"):
            requests.delete(f"{url}/deployment/{deployment['id']}", params={"cascade": "true"}, auth=camunda.AUTH, timeout=30)


KEYS = [own_key(k) for k in ("purchase_request", "access_request", "ticket_approval", "small", "two_a", "two_b",
                             "versions", "concurrent_0", "concurrent_1")]


@pytest.fixture(scope="module")
def engine(url, files):
    e = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    for path in files.values():
        e.deploy(path)
    yield e
    e.close()


@pytest.fixture
def key(engine):
    k = f"e2t-{uuid.uuid4()}"
    yield k
    engine.cancel(k, "test finished")


def decide(engine, key, definition_key, value, who):
    [task] = [t for t in engine.open_tasks(key) if t.definition_key == definition_key]
    field = task.decision_field
    engine.complete_task(task.id, {field.id: value, "comment": f"{who} says {value}"}, completed_by=who)
    return task


def running(url, key):
    return requests.get(f"{url}/process-instance", params={"businessKey": key}, auth=camunda.AUTH, timeout=5).json()


class LoseAnswers(HTTPAdapter):
    """Sends requests whose path contains ``marker`` to the engine, then loses the answer (once each)."""

    def __init__(self, marker: str, times: int = 1):
        super().__init__()
        self.marker, self.left = marker, times

    def send(self, request, *args, **kwargs):
        response = super().send(request, *args, **kwargs)
        if self.marker in request.url and self.left > 0:
            self.left -= 1
            raise requests.ConnectionError("Connection aborted: RemoteDisconnected (answer lost)")
        return response


# --- routing on the shipped processes ------------------------------------------------------------

def test_a_purchase_of_5000_goes_manager_then_finance_then_the_automated_step(engine, key):
    purchase = own_key("purchase_request")
    instance = engine.start(purchase, key, {"amount": Decimal("5000"), "requester": "alice", "supplier": "ACME"})
    assert instance.created and instance.process_key == purchase
    assert instance.definition_id == engine.latest_definition_id(purchase)
    [manager] = engine.open_tasks(key)
    assert (manager.definition_key, manager.name, manager.candidate_groups) == (
        "ManagerApproval", "Manager Approval", ("managers",))
    assert manager.business_key == key and manager.process_key == purchase
    assert [(f.id, f.type, f.required, f.values) for f in manager.form] == [
        ("manager_decision", "enum", True, (("approve", "Approve"), ("reject", "Reject")))]
    engine.complete_task(manager.id, {"manager_decision": "approve", "comment": "ok"}, completed_by="bob")
    [finance] = engine.open_tasks(key)
    assert (finance.definition_key, finance.candidate_groups) == ("FinanceApproval", ("finance",))
    engine.complete_task(finance.id, {"finance_decision": "approve", "comment": ""}, completed_by="fiona")
    assert engine.open_tasks(key) == []
    [step] = engine.automated_steps(key)
    assert (step.topic, step.activity_id, step.activity_name) == (TOPIC, "PlaceOrder", "Place Order")
    view = engine.instance(key)
    assert view.state == InstanceState.ACTIVE and view.active_activity_ids == ("PlaceOrder",)
    assert view.variables["amount"] == 5000.0 and view.variables["finance_decision"] == "approve"
    assert [(c.definition_key, c.completed_by) for c in engine.completed_tasks(key)] == [
        ("ManagerApproval", "bob"), ("FinanceApproval", "fiona")]


@pytest.mark.parametrize("amount, finance", [(500, False), (1000, False), (1000.01, True)])
def test_finance_is_asked_only_above_the_threshold(engine, key, amount, finance):
    engine.start(own_key("purchase_request"), key, {"amount": amount, "requester": "alice"})
    decide(engine, key, "ManagerApproval", "approve", "bob")
    assert [t.definition_key for t in engine.open_tasks(key)] == (["FinanceApproval"] if finance else [])
    assert [s.activity_id for s in engine.automated_steps(key)] == ([] if finance else ["PlaceOrder"])


def test_a_rejection_at_the_second_level_ends_at_the_rejected_end_event(engine, key):
    engine.start(own_key("purchase_request"), key, {"amount": 5000, "requester": "alice"})
    decide(engine, key, "ManagerApproval", "approve", "bob")
    decide(engine, key, "FinanceApproval", "reject", "fiona")
    view = engine.instance(key)
    assert view.state == InstanceState.COMPLETED and view.end_activity_id == "Rejected"
    assert engine.model(view.definition_id).outcomes[view.end_activity_id] == "rejected"
    assert view.variables["comment"] == "fiona says reject"
    assert engine.open_tasks(key) == [] and engine.automated_steps(key) == []
    assert [c.definition_key for c in engine.completed_tasks(key)] == ["ManagerApproval", "FinanceApproval"]


def test_the_access_request_waits_for_both_groups_in_parallel(engine, key):
    engine.start(own_key("access_request"), key, {"requester": "alice", "system": "payroll"})
    tasks = engine.open_tasks(key)
    assert sorted((t.definition_key, t.candidate_groups) for t in tasks) == [
        ("ManagerApproval", ("managers",)), ("SecurityReview", ("security",))]
    decide(engine, key, "SecurityReview", "approve", "sam")
    assert [t.definition_key for t in engine.open_tasks(key)] == ["ManagerApproval"]
    assert engine.automated_steps(key) == []
    decide(engine, key, "ManagerApproval", "approve", "bob")
    [step] = engine.automated_steps(key)
    assert step.activity_id == "GrantAccess"
    [locked] = wait_until(lambda: engine.fetch_and_lock("w1", [TOPIC], business_key=key))
    engine.complete(locked.id, "w1", {"granted": True})
    view = engine.instance(key)
    assert view.state == InstanceState.COMPLETED and view.end_activity_id == "Completed"
    assert view.activity_names["GrantAccess"] == "Grant Access"


def test_an_assignee_expression_and_candidate_users_are_resolved_by_camunda(engine, key):
    engine.start(own_key("small"), key, {"requester": "alice"})
    [confirm] = engine.open_tasks(key)
    assert (confirm.assignee, confirm.name) == ("alice", "Requester confirms")
    assert confirm.due == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert confirm.created_at is not None and confirm.created_at.tzinfo is not None
    assert [(f.id, f.type, f.default) for f in confirm.form] == [("confirmed", "boolean", True)]
    assert engine.task(confirm.id) == confirm
    engine.complete_task(confirm.id, {"confirmed": True}, completed_by="alice")
    [pick] = engine.open_tasks(key)
    assert (pick.candidate_users, pick.candidate_groups, pick.assignee) == (("carol", "dave"), ("ops",), None)
    model = engine.model(engine.instance(key).definition_id)
    assert model.task_properties["Pick"] == {"pflow.fourEyes": "false"} and model.candidate_groups == ("ops",)
    assert model.outcomes == {"Done": "completed"}


def test_a_task_the_process_assigned_can_be_completed_by_the_user_the_service_allowed(engine, key, url):
    engine.start(own_key("small"), key, {"requester": "alice"})
    [confirm] = engine.open_tasks(key)
    engine.complete_task(confirm.id, {"confirmed": True}, completed_by="admin")
    [done] = engine.completed_tasks(key)
    assert (done.id, done.completed_by) == (confirm.id, "admin") and done.completed_at is not None


# --- completing ------------------------------------------------------------------------------

def test_exactly_one_of_two_concurrent_completions_wins(engine, key):
    engine.start(own_key("purchase_request"), key, {"amount": 10, "requester": "alice"})
    [task] = engine.open_tasks(key)
    barrier = threading.Barrier(4)
    outcomes: dict[str, object] = {}

    def complete(who):
        barrier.wait()
        try:
            engine.complete_task(task.id, {"manager_decision": "approve", "comment": who}, completed_by=who)
            outcomes[who] = "won"
        except (TaskNotFound, ConcurrencyConflict) as exc:
            outcomes[who] = type(exc).__name__

    threads = [threading.Thread(target=complete, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [who for who, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    [done] = engine.completed_tasks(key)
    assert done.completed_by == winners[0]
    assert engine.instance(key).variables["comment"] == winners[0]


def test_a_completed_task_is_not_found(engine, key):
    engine.start(own_key("purchase_request"), key, {"amount": 10, "requester": "alice"})
    task = decide(engine, key, "ManagerApproval", "approve", "bob")
    with pytest.raises(TaskNotFound):
        engine.task(task.id)
    with pytest.raises(TaskNotFound):
        engine.complete_task(task.id, {"manager_decision": "approve"}, completed_by="bob")
    with pytest.raises(TaskNotFound):
        engine.task("no-such-task")


def test_a_refused_completion_gives_the_claim_back(engine, key):
    """An expression that cannot be evaluated fails the completion; the task stays open for anyone."""
    engine.start(own_key("purchase_request"), key, {"amount": 10, "requester": "alice"})
    [task] = engine.open_tasks(key)
    with pytest.raises(ValidationError) as err:
        engine.complete_task(task.id, {"comment": "no decision"}, completed_by="bob")  # the gateway reads it
    assert "manager_decision" in err.value.message
    again = engine.task(task.id)
    assert again.assignee is None
    engine.complete_task(task.id, {"manager_decision": "approve"}, completed_by="carol")
    assert engine.completed_tasks(key)[0].completed_by == "carol"


def test_a_task_claimed_by_someone_else_is_theirs_until_the_claim_is_stale(engine, url, files, key):
    engine.start(own_key("purchase_request"), key, {"amount": 10, "requester": "alice"})
    [task] = engine.open_tasks(key)
    requests.post(f"{url}/task/{task.id}/claim", json={"userId": "ghost"}, auth=camunda.AUTH, timeout=5).raise_for_status()
    with pytest.raises(ConcurrencyConflict):
        engine.complete_task(task.id, {"manager_decision": "approve"}, completed_by="bob")
    assert engine.task(task.id).assignee == "ghost"
    impatient = CamundaWorkflowEngine(url, KEYS, stale_claim_s=0, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        impatient.complete_task(task.id, {"manager_decision": "approve"}, completed_by="bob")
    finally:
        impatient.close()
    assert [c.completed_by for c in engine.completed_tasks(key)] == ["bob"]


def test_the_claimer_itself_may_complete_its_claim(engine, url, key):
    engine.start(own_key("purchase_request"), key, {"amount": 10, "requester": "alice"})
    [task] = engine.open_tasks(key)
    requests.post(f"{url}/task/{task.id}/claim", json={"userId": "bob"}, auth=camunda.AUTH, timeout=5).raise_for_status()
    engine.complete_task(task.id, {"manager_decision": "approve"}, completed_by="bob")
    assert [c.completed_by for c in engine.completed_tasks(key)] == ["bob"]


# --- variables ---------------------------------------------------------------------------------

def test_variables_keep_their_types_through_the_engine(engine, key):
    sent = {"requester": "alice", "amount": 1200.5, "count": 3, "big": 2**40, "urgent": False, "note": None,
            "needed_by": "2030-05-06", "tags": ["a", "b"], "extra": {"floor": 2},
            "due": datetime(2030, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)}
    engine.start(own_key("ticket_approval"), key, {**sent, "price": Decimal("12.5")})
    view = engine.instance(key)
    assert {k: view.variables[k] for k in sent} == sent and view.variables["price"] == 12.5
    [task] = engine.open_tasks(key)
    engine.complete_task(task.id, {"approved": True, "comment": "ok"}, completed_by="bob")
    [locked] = wait_until(lambda: engine.fetch_and_lock("w1", [TOPIC], business_key=key))
    assert {k: locked.variables[k] for k in sent} == sent
    engine.complete(locked.id, "w1", {"fulfilment_reference": "PRV-7", "details": {"seat": 4}})
    done = engine.instance(key)
    assert done.state == InstanceState.COMPLETED and done.variables["details"] == {"seat": 4}
    assert done.end_activity_id == "Completed"


# --- deployment -------------------------------------------------------------------------------

def test_deploying_is_by_content_and_an_older_file_never_becomes_the_latest_again(engine, url, tmp_path):
    versions = own_key("versions")
    old = tmp_path / "old" / "versions.bpmn"
    new = tmp_path / "new" / "versions.bpmn"
    for path, name in ((old, "Old name"), (new, "New name")):
        path.parent.mkdir()
        path.write_text(SMALL.format(key=versions, pick=name), encoding="utf-8")
    [first] = engine.deploy(old)
    assert first.created and first.process_key == versions
    [same] = engine.deploy(old)
    assert not same.created and same.definition_id == first.definition_id
    [second] = engine.deploy(new)
    assert second.created and second.version == first.version + 1
    [back] = engine.deploy(old)  # `pflow deploy new.bpmn`, then `pflow serve` with the old file
    assert not back.created and back.definition_id == first.definition_id
    assert engine.latest_definition_id(versions) == second.definition_id
    assert len(requests.get(f"{url}/process-definition", params={"key": versions}, auth=camunda.AUTH, timeout=5).json()) == 2
    assert "New name" in engine.definition_xml(second.definition_id)


@pytest.mark.parametrize("across_processes", [False, True], ids=["threads", "processes"])
def test_concurrent_deploys_of_a_new_file_make_one_version(url, tmp_path, monkeypatch, across_processes):
    """Threads of one process take turns; separate processes (no shared lock, as simulated here) race
    inside Camunda, whose duplicate filtering then lets both deploy: the later one is removed again."""
    if across_processes:
        monkeypatch.setattr(camunda_engine, "_DEPLOY_LOCK", contextlib.nullcontext())
    concurrent = own_key(f"concurrent_{int(across_processes)}")
    path = tmp_path / "concurrent.bpmn"
    path.write_text(SMALL.format(key=concurrent, pick="Once"), encoding="utf-8")
    adapters = [CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR) for _ in range(4)]
    barrier = threading.Barrier(len(adapters))
    results = []

    def deploy(adapter):
        barrier.wait()
        results.append(adapter.deploy(path)[0])

    threads = [threading.Thread(target=deploy, args=(a,)) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in adapters:
        a.close()
    assert len({r.definition_id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert len(requests.get(f"{url}/process-definition", params={"key": concurrent}, auth=camunda.AUTH, timeout=5).json()) == 1


def test_a_fresh_adapter_sees_an_unchanged_file_as_deployed(url, files):
    fresh = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        [again] = fresh.deploy(files["purchase"])
        assert not again.created and again.definition_id == fresh.latest_definition_id(own_key("purchase_request"))
    finally:
        fresh.close()


def test_every_process_of_a_file_is_deployed(engine, tmp_path):
    a, b = own_key("two_a"), own_key("two_b")
    body_a = SMALL.format(key=a, pick="A").split("<bpmn:process", 1)[1].split("</bpmn:process>")[0]
    body_b = SMALL.format(key=b, pick="B").split("<bpmn:process", 1)[1].split("</bpmn:process>")[0]
    for element in ("Start", "F1", "Confirm", "F2", "Pick", "F3", "Done"):  # ids are unique per file
        body_b = body_b.replace(f'"{element}"', f'"B_{element}"')
    text = SMALL.format(key=a, pick="A").replace(
        f"<bpmn:process{body_a}</bpmn:process>",
        f"<bpmn:process{body_a}</bpmn:process>\n  <bpmn:process{body_b}</bpmn:process>")
    path = tmp_path / "two.bpmn"
    path.write_text(text, encoding="utf-8")
    deployed = engine.deploy(path)
    assert sorted(d.process_key for d in deployed) == [a, b] and all(d.created for d in deployed)
    assert len({d.deployment_id for d in deployed}) == 1
    assert not any(d.created for d in engine.deploy(path))
    k = f"e2t-{uuid.uuid4()}"
    try:
        engine.start(b, k, {"requester": "zoe"})
        assert [(t.definition_key, t.assignee, t.process_key) for t in engine.open_tasks(k)] == [("B_Confirm", "zoe", b)]
    finally:
        engine.cancel(k, "test finished")


def test_an_invalid_bpmn_is_refused_with_camunda_s_message_and_the_element(engine, files, tmp_path):
    broken = tmp_path / "ticket-process.bpmn"
    broken.write_text(files["ticket"].read_text().replace('targetRef="Completed"', 'targetRef="DoesNotExist"'))
    with pytest.raises(DeploymentRejected) as err:
        engine.deploy(broken)
    message = err.value.message
    assert message.startswith(f"{camunda.ENGINE_NAME} refused ticket-process.bpmn: ")
    assert "Invalid destination 'DoesNotExist'" in message and "[element Flow_Provisioned_To_Completed]" in message
    assert any("Flow_Provisioned_To_Completed" in m for m in err.value.details["bpmn_file"])


def test_each_engine_spells_the_parse_error_element_key_its_own_way(url, files):
    """The one REST difference between Camunda 7.24 and Operaton that PFlow's adapter meets (docs/deployment.md,
    "Camunda or Operaton"): the element ids of a parse error come under "еlementIds" with a Cyrillic "е" on
    Camunda, "elementIds" on Operaton. The adapter reads both (the test above passes on each)."""
    text = files["ticket"].read_text().replace('targetRef="Completed"', 'targetRef="DoesNotExist"')
    r = requests.post(f"{url}/deployment/create", auth=camunda.AUTH, timeout=30,
                      data={"deployment-name": "pflow-parse-error-key", "deploy-changed-only": "true"},
                      files={"broken.bpmn": ("broken.bpmn", text.encode(), "application/octet-stream")})
    assert r.status_code == 400 and r.json()["type"] == "ParseException"
    errors = r.json()["details"]["broken.bpmn"]["errors"]
    keys = {key for error in errors for key in error if key.endswith("lementIds")}
    assert keys == {"\u0435lementIds" if camunda.FLAVOUR == "camunda" else "elementIds"}
    assert ["Flow_Provisioned_To_Completed"] in [error[next(iter(keys))] for error in errors]


def test_malformed_xml_is_refused_with_camunda_s_parser_message(engine, files, tmp_path):
    broken = tmp_path / "cut.bpmn"
    broken.write_text(files["ticket"].read_text()[:2000])
    with pytest.raises(DeploymentRejected) as err:
        engine.deploy(broken)
    assert f"{camunda.ENGINE_NAME} refused cut.bpmn" in err.value.message and "ENGINE-09003" in err.value.message


def test_a_file_without_an_executable_process_is_refused_before_deploying(engine, url, tmp_path):
    path = tmp_path / "none.bpmn"
    path.write_text(SMALL.format(key=own_key("none"), pick="x").replace('isExecutable="true"', 'isExecutable="false"'))
    before = requests.get(f"{url}/deployment/count", auth=camunda.AUTH, timeout=5).json()["count"]
    with pytest.raises(DeploymentRejected) as err:
        engine.deploy(path)
    assert "no executable process" in err.value.message
    assert requests.get(f"{url}/deployment/count", auth=camunda.AUTH, timeout=5).json()["count"] == before


def test_unknown_definitions_and_processes_are_not_found(engine):
    with pytest.raises(NotFound):
        engine.latest_definition_id(own_key("never_deployed"))
    with pytest.raises(NotFound):
        engine.definition_xml("nope:1:00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        engine.model("nope:1:00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        engine.start(own_key("never_deployed"), f"e2t-{uuid.uuid4()}", {})
    assert engine.instance(f"e2t-{uuid.uuid4()}") is None and engine.open_tasks(f"e2t-{uuid.uuid4()}") == []


# --- business keys, cancel, lost answers -------------------------------------------------------

def test_concurrent_starts_for_one_key_make_one_instance(engine, key, url):
    barrier = threading.Barrier(6)
    results = []

    def start():
        barrier.wait()
        results.append(engine.start(own_key("ticket_approval"), key, {"requester": "alice"}))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(running(url, key)) == 1
    assert len({r.id for r in results}) == 1 and sum(r.created for r in results) == 1


def test_a_start_whose_answer_was_lost_does_not_start_twice(url, files, key):
    e = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        e._client.session.mount(url, LoseAnswers("/start"))
        instance = e.start(own_key("ticket_approval"), key, {"requester": "alice"})
        assert instance.created
        assert [i["id"] for i in running(url, key)] == [instance.id]
    finally:
        e.close()


def test_cancel_terminates_the_instance(engine, key):
    engine.start(own_key("access_request"), key, {"requester": "alice"})
    assert engine.cancel(key, "withdrawn by alice")
    assert not engine.cancel(key, "again")
    view = engine.instance(key)
    assert view.state == InstanceState.TERMINATED and view.end_activity_id is None
    assert engine.open_tasks(key) == []


def test_an_incident_is_reported_with_its_activity_and_retried(engine, key):
    engine.start(own_key("purchase_request"), key, {"amount": 1, "requester": "alice"})
    decide(engine, key, "ManagerApproval", "approve", "bob")
    [locked] = wait_until(lambda: engine.fetch_and_lock("w1", [TOPIC], business_key=key))
    engine.fail(locked.id, "w1", "supplier down", retries=0, retry_timeout_ms=0)
    view = engine.instance(key)
    assert view.state == InstanceState.INCIDENT and view.incidents == ("PlaceOrder",)
    [step] = engine.automated_steps(key)
    assert step.retries == 0 and step.error_message == "supplier down"
    engine.retry_step(step.id, 2)
    assert engine.instance(key).state == InstanceState.ACTIVE
    with pytest.raises(TaskNotFound):
        engine.retry_step("no-such-task", 1)


# --- external tasks -------------------------------------------------------------------------------

def test_a_completion_whose_answer_was_lost_counts_as_done(url, files, key):
    e = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        e.start(own_key("purchase_request"), key, {"amount": 1, "requester": "alice"})
        decide(e, key, "ManagerApproval", "approve", "bob")
        [task] = wait_until(lambda: e.fetch_and_lock("w1", [TOPIC], business_key=key))
        e._client.session.mount(url, LoseAnswers(f"/external-task/{task.id}/complete"))
        e.complete(task.id, "w1", {"fulfilment_reference": "PRV-1"})
        view = e.instance(key)
        assert view.state == InstanceState.COMPLETED and view.variables["fulfilment_reference"] == "PRV-1"
    finally:
        e.close()


def test_unlock_frees_only_the_worker_s_own_lock(engine, key):
    engine.start(own_key("purchase_request"), key, {"amount": 1, "requester": "alice"})
    decide(engine, key, "ManagerApproval", "approve", "bob")
    [task] = wait_until(lambda: engine.fetch_and_lock("w1", [TOPIC], lock_duration_ms=600_000, business_key=key))
    with pytest.raises(TaskLockedByOtherWorker):
        engine.unlock(task.id, "w2")
    assert engine.fetch_and_lock("w2", [TOPIC], business_key=key) == []
    engine.unlock(task.id, "w1")
    [again] = engine.fetch_and_lock("w2", [TOPIC], business_key=key)
    assert again.id == task.id and again.worker_id == "w2" and again.retries is None
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete(task.id, "w1")
    engine.extend_lock(task.id, "w2", 60_000)
    engine.complete(task.id, "w2")
    with pytest.raises(TaskNotFound):
        engine.complete(task.id, "w2")


def test_fetching_takes_only_tasks_of_the_adapter_s_processes(engine, url, key):
    engine.start(own_key("purchase_request"), key, {"amount": 1, "requester": "alice"})
    elsewhere = CamundaWorkflowEngine(url, [own_key("access_request")], auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        [task] = engine.open_tasks(key)
        with pytest.raises(TaskNotFound):
            elsewhere.task(task.id)  # open, but of a process the adapter does not serve
        decide(engine, key, "ManagerApproval", "approve", "bob")
        assert elsewhere.fetch_and_lock("w1", [TOPIC], business_key=key) == []
        assert elsewhere.open_tasks(key) == [] and elsewhere.instance(key) is None
    finally:
        elsewhere.close()
    assert len(engine.fetch_and_lock("w1", [TOPIC], business_key=key)) == 1


def polling(engine) -> threading.Event:
    """Set once the engine has sent a fetchAndLock (so an interrupt finds the poll waiting)."""
    sent = threading.Event()
    sent.paths = []
    request = engine._client.request

    def spy(method, path, **kwargs):
        sent.paths.append(path)
        if path == "/external-task/fetchAndLock":
            sent.set()
        return request(method, path, **kwargs)

    engine._client.request = spy
    return sent


def test_interrupting_a_long_wait_returns_nothing_early(url, files, key):
    e = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    outcome = []
    sent = polling(e)
    poller = threading.Thread(target=lambda: outcome.append(
        e.fetch_and_lock("w1", [TOPIC], wait_ms=60_000, business_key=key)))
    poller.start()
    assert sent.wait(10)
    e.interrupt_waits()
    poller.join(30)
    e.close()
    assert not poller.is_alive() and outcome == [[]]


def test_a_task_locked_by_an_interrupted_poll_is_given_back(url, files, key):
    """The poll's slice may lock a task after the interrupt; it is unlocked, not left to its lock expiry."""
    e = CamundaWorkflowEngine(url, KEYS, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        e.start(own_key("ticket_approval"), key, {})
        [task] = e.open_tasks(key)
        outcome = []
        sent = polling(e)
        poller = threading.Thread(target=lambda: outcome.append(
            e.fetch_and_lock("w1", [TOPIC], wait_ms=60_000, lock_duration_ms=600_000, business_key=key)))
        poller.start()
        assert sent.wait(10)
        e.interrupt_waits()
        e.complete_task(task.id, {"approved": True, "comment": ""}, completed_by="bob")
        poller.join(30)
        assert outcome == [[]]
        assert f"/external-task/{e.automated_steps(key)[0].id}/unlock" in sent.paths
        [again] = wait_until(lambda: e.fetch_and_lock("w2", [TOPIC], business_key=key))
        assert again.worker_id == "w2"
    finally:
        e.close()
