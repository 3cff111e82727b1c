"""Camunda's official Python client (camunda-external-task-client-python3) against a real `pflow serve` on the
embedded engine, through /engine-rest with basic authentication and the built-in worker off: the worker code a
team wrote for Camunda runs unchanged, and the ticket follows what it reports."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support import ServedPFlow, free_port

client = pytest.importorskip("camunda.external_task.external_task_worker",
                             reason="the dev dependency camunda-external-task-client-python3 is not installed")

USER, PASSWORD = "python-worker", "a-password-only-this-test-knows"
TOPIC = "ticket-processing"


@pytest.fixture
def server(tmp_path):
    env = {"WORKFLOW_ENGINE": "embedded", "DATABASE_URL": f"sqlite:///{tmp_path / 'pflow.db'}",
           "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_UI_DIR": str(tmp_path / "no-ui"), "PFLOW_DEMO_USERS": "1",
           "PFLOW_SECRET_KEY": "test-secret-of-32-bytes-or-more-for-tests-only",
           "PFLOW_SERVE_WORKER": "0",  # the client must get every task
           "PFLOW_ENGINE_REST_USERNAME": USER, "PFLOW_ENGINE_REST_PASSWORD": PASSWORD,
           "PFLOW_ACCESS_LOG": "0"}
    served = ServedPFlow(env, free_port())
    try:
        served.wait_ready()
        yield served
    finally:
        assert served.stop() == 0, served.output()


def login(url: str, user: str) -> dict[str, str]:
    r = requests.post(url + "/api/auth/login", json={"username": user, "password": user}, timeout=5)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def approved_ticket(url: str) -> tuple[str, dict[str, str]]:
    alice, bob = login(url, "alice"), login(url, "bob")
    t = requests.post(url + "/api/tickets", json={"title": "Laptop"}, headers=alice, timeout=10).json()
    assert requests.post(f"{url}/api/tickets/{t['id']}/submit", headers=alice, timeout=10).status_code == 200
    r = requests.post(f"{url}/api/tickets/{t['id']}/approve", headers=bob, json={"comment": "ok"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    return t["id"], alice


def status(url: str, ticket_id: str, headers: dict[str, str]) -> dict:
    return requests.get(f"{url}/api/tickets/{ticket_id}", headers=headers, timeout=10).json()


def official_worker(url: str, **config):
    return client.ExternalTaskWorker("python-client", f"{url}/engine-rest", config={
        "auth_basic": {"username": USER, "password": PASSWORD}, "maxTasks": 1, "lockDuration": 10_000,
        "asyncResponseTimeout": 3_000, "retries": 1, "retryTimeout": 0, "sleepSeconds": 0, **config})


def run_until(worker, handler, done, timeout=30.0):
    """What the client's subscribe() loop does, until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the client's handler never finished the task"
        try:
            worker.fetch_and_execute(TOPIC, handler)
        except client.NoExternalTaskFound:
            pass


def test_the_official_python_client_completes_the_provisioning_step(server):
    ticket_id, alice = approved_ticket(server.url)
    seen = []

    def provision(task):
        seen.append((task.get_business_key(), task.get_variable("requester"), task.get_topic_name()))
        return task.complete({"fulfilment_reference": f"EXT-{task.get_business_key()[:8]}"})

    run_until(official_worker(server.url), provision, lambda: bool(seen))
    assert seen == [(ticket_id, "alice", TOPIC)]
    done = status(server.url, ticket_id, alice)  # at once: the completion moved the ticket on
    assert done["status"] == "completed", done
    assert done["results"]["fulfilment_reference"] == f"EXT-{ticket_id[:8]}"


def test_a_failure_the_client_reports_on_its_last_retry_is_an_incident(server):
    ticket_id, alice = approved_ticket(server.url)
    tries = []

    def broken(task):
        tries.append(task.get_task_id())
        return task.failure("backend down", "Traceback ...", max_retries=1, retry_timeout=0)

    # retries 1, then 0: the client counts them down from what the engine says
    run_until(official_worker(server.url), broken,
              lambda: status(server.url, ticket_id, alice)["status"] == "needs_attention")
    assert len(tries) == 2 and len(set(tries)) == 1
    carol = login(server.url, "carol")
    items = requests.get(server.url + "/api/incidents", headers=carol, timeout=10).json()["items"]
    assert [(i["ticket_id"], i["error"]) for i in items] == [(ticket_id, "backend down")]


def test_wrong_credentials_are_refused_as_camunda_refuses_them(server):
    worker = official_worker(server.url, auth_basic={"username": USER, "password": "wrong"})
    with pytest.raises(requests.HTTPError) as refused:
        worker.fetch_and_execute(TOPIC, lambda task: task.complete({}))
    assert refused.value.response.status_code == 401


def test_serve_says_where_the_rest_is(server):
    assert server.stop() == 0
    assert f"Camunda external-task REST at {server.url}/engine-rest" in server.output()
