"""What the Camunda adapter adds to the port's contract, against the real engine: Camunda's own
refusals, typed variables, business-key uniqueness, lost answers, process-key isolation."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import pytest
import requests
from requests.adapters import HTTPAdapter

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.ports.workflow import PROVISIONING_TOPIC, DeploymentRejected, InstanceState
from tests.camunda import stack as camunda
from tests.support import BPMN, wait_until

pytestmark = pytest.mark.camunda


@pytest.fixture
def url():
    return camunda.require_camunda()


@pytest.fixture
def engine(url):
    e = CamundaWorkflowEngine(url)
    e.deploy(BPMN)
    yield e
    e.close()


@pytest.fixture
def key(engine):
    k = f"test-{uuid.uuid4()}"
    yield k
    engine.cancel_process(k, "test finished")


def approve(engine, key, variables=None):
    engine.start_process(key, variables or {})
    task = engine.find_user_task(key)
    engine.complete_user_task(task.id, {"approved": True, "comment": "ok", "approver": "bob"}, assignee="bob")
    return task


def running(url, key):
    return requests.get(f"{url}/process-instance", params={"businessKey": key}, timeout=5).json()


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


# --- deployment --------------------------------------------------------------------------------

def test_an_invalid_bpmn_is_refused_with_camunda_s_message_and_the_element(engine, tmp_path):
    broken = tmp_path / "ticket-process.bpmn"
    broken.write_text(BPMN.read_text().replace('targetRef="Completed"', 'targetRef="DoesNotExist"'))
    with pytest.raises(DeploymentRejected) as err:
        engine.deploy(broken)
    message = err.value.message
    assert message.startswith("Camunda refused ticket-process.bpmn: ")
    assert "Invalid destination 'DoesNotExist'" in message and "[element Flow_Provisioned_To_Completed]" in message
    assert "line " in message
    assert any("Flow_Provisioned_To_Completed" in m for m in err.value.details["bpmn_file"])


def test_malformed_xml_is_refused_with_camunda_s_parser_message(engine, tmp_path):
    broken = tmp_path / "cut.bpmn"
    broken.write_text(BPMN.read_text()[:2000])
    with pytest.raises(DeploymentRejected) as err:
        engine.deploy(broken)
    assert "Camunda refused cut.bpmn" in err.value.message and "ENGINE-09003" in err.value.message


def test_a_file_without_the_configured_process_is_refused_before_deploying(url, tmp_path):
    other = CamundaWorkflowEngine(url, process_key="no_such_process")
    before = requests.get(f"{url}/deployment/count", timeout=5).json()["count"]
    with pytest.raises(DeploymentRejected) as err:
        other.deploy(BPMN)
    assert "no process with id 'no_such_process'" in err.value.message and "CAMUNDA_PROCESS_KEY" in err.value.message
    assert requests.get(f"{url}/deployment/count", timeout=5).json()["count"] == before
    other.close()


# --- variables -----------------------------------------------------------------------------------

def test_variables_keep_their_types_through_the_engine(engine, key):
    sent = {"requester": "alice", "amount": 1200.5, "count": 3, "big": 2**40, "urgent": False, "note": None,
            "tags": ["a", "b"], "extra": {"floor": 2},
            "due": datetime(2030, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)}
    approve(engine, key, sent)
    state = engine.process_state(key)
    assert {k: state.variables[k] for k in sent} == sent
    assert (state.variables["approved"], state.variables["approver"]) == (True, "bob")
    [task] = wait_until(lambda: engine.fetch_and_lock("w1", [PROVISIONING_TOPIC], business_key=key))
    assert {k: task.variables[k] for k in sent} == sent
    engine.complete_external_task(task.id, "w1", {"fulfilment_reference": "PRV-7", "details": {"seat": 4}})
    done = engine.process_state(key)
    assert done.state == InstanceState.COMPLETED and done.variables["details"] == {"seat": 4}


def test_the_approver_is_recorded_as_the_task_s_assignee(engine, key, url):
    task = approve(engine, key)
    [historic] = requests.get(f"{url}/history/task", params={"taskId": task.id}, timeout=5).json()
    assert historic["assignee"] == "bob" and historic["deleteReason"] == "completed"


# --- business keys ---------------------------------------------------------------------------------

def test_concurrent_starts_for_one_key_make_one_instance(engine, key, url):
    barrier = threading.Barrier(6)
    results = []

    def start():
        barrier.wait()
        results.append(engine.start_process(key, {"requester": "alice"}))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(running(url, key)) == 1
    assert len({r.id for r in results}) == 1 and sum(r.created for r in results) == 1


def test_a_start_whose_answer_was_lost_does_not_start_twice(engine, key, url):
    engine._client.session.mount(url, LoseAnswers("/start"))
    instance = engine.start_process(key, {"requester": "alice"})
    assert instance.created
    assert [i["id"] for i in running(url, key)] == [instance.id]


# --- external tasks ---------------------------------------------------------------------------------

def test_a_completion_whose_answer_was_lost_counts_as_done(engine, key, url):
    approve(engine, key)
    [task] = wait_until(lambda: engine.fetch_and_lock("w1", [PROVISIONING_TOPIC], business_key=key))
    engine._client.session.mount(url, LoseAnswers(f"/external-task/{task.id}/complete"))
    engine.complete_external_task(task.id, "w1", {"fulfilment_reference": "PRV-1"})
    state = engine.process_state(key)
    assert state.state == InstanceState.COMPLETED and state.variables["fulfilment_reference"] == "PRV-1"


def test_fetching_takes_only_tasks_of_the_engine_s_own_process(engine, url):
    other = CamundaWorkflowEngine(url, process_key=camunda.SESSION_KEY)
    other.deploy(camunda.session_bpmn())
    k = f"test-{uuid.uuid4()}"
    try:
        approve(other, k)
        assert engine.fetch_and_lock("w1", [PROVISIONING_TOPIC], business_key=k) == []
        assert len(other.fetch_and_lock("w1", [PROVISIONING_TOPIC], business_key=k)) == 1
    finally:
        other.cancel_process(k, "test finished")
        other.close()


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


def test_interrupting_a_long_wait_returns_nothing_early(engine, key):
    outcome = []
    sent = polling(engine)
    poller = threading.Thread(target=lambda: outcome.append(
        engine.fetch_and_lock("w1", [PROVISIONING_TOPIC], wait_ms=60_000, business_key=key)))
    poller.start()
    assert sent.wait(10)
    engine.interrupt_waits()
    poller.join(30)
    assert not poller.is_alive() and outcome == [[]]


def test_a_task_locked_by_an_interrupted_poll_is_given_back(engine, key):
    """The poll's slice may lock a task after the interrupt; it is unlocked, not left to its lock expiry."""
    engine.start_process(key, {})
    task = engine.find_user_task(key)
    outcome = []
    sent = polling(engine)
    poller = threading.Thread(target=lambda: outcome.append(
        engine.fetch_and_lock("w1", [PROVISIONING_TOPIC], wait_ms=60_000, lock_duration_ms=600_000,
                              business_key=key)))
    poller.start()
    assert sent.wait(10)
    engine.interrupt_waits()
    engine.complete_user_task(task.id, {"approved": True, "comment": "", "approver": "bob"})
    poller.join(30)
    assert outcome == [[]]
    assert f"/external-task/{engine.find_external_tasks(key)[0].id}/unlock" in sent.paths
    [again] = wait_until(lambda: engine.fetch_and_lock("w2", [PROVISIONING_TOPIC], business_key=key))
    assert again.worker_id == "w2"
