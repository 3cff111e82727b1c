"""Camunda 7's external-task REST on the embedded engine (/engine-rest), through the Flask test client: what
Camunda's own clients send and read, the ticket following its process after each outcome, Camunda's errors,
and the basic authentication that turns it on."""

from __future__ import annotations

import base64
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from pflow.entrypoints.http import create_app
from tests.api.test_http_api import submit, ticket
from tests.conftest import ApiClient
from tests.support import build_stack, settings_for, wait_until

USER, PASSWORD = "worker", "s3cret-worker-password"
TOPIC = "ticket-processing"
CONTRACT_BPMN = Path(__file__).parent.parent / "contract" / "bpmn"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")  # Camunda's yyyy-MM-dd'T'HH:mm:ss.SSSZ
LOCKED_KEYS = {"activityId", "activityInstanceId", "errorMessage", "errorDetails", "executionId", "id",
               "lockExpirationTime", "processDefinitionId", "processDefinitionKey", "processDefinitionVersionTag",
               "processInstanceId", "retries", "suspended", "workerId", "topicName", "tenantId", "variables",
               "priority", "businessKey", "extensionProperties"}


def basic(user=USER, password=PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def stack(tmp_path):
    s = build_stack("embedded", tmp_path, engine_rest_username=USER, engine_rest_password=PASSWORD,
                    run_worker_in_serve=False)
    yield s
    s.close()


@pytest.fixture
def app(stack):
    return create_app(stack.container)


@pytest.fixture
def api(app):
    return ApiClient(app)


@pytest.fixture
def rest(app):
    return EngineRest(app)


class EngineRest:
    """A Camunda client's calls, as JSON over the test client."""

    def __init__(self, app, auth=None):
        self.app = app
        self.headers = basic() if auth is None else auth

    def post(self, path, json=None, **kw):
        return self.app.test_client().post(f"/engine-rest{path}", json=json, headers=self.headers, **kw)

    def fetch(self, worker="w1", topics=(TOPIC,), max_tasks=1, lock_ms=30_000, wait_ms=None, **topic_options):
        body = {"workerId": worker, "maxTasks": max_tasks, "usePriority": True,
                "topics": [{"topicName": t, "lockDuration": lock_ms, **topic_options} for t in topics]}
        if wait_ms is not None:
            body["asyncResponseTimeout"] = wait_ms
        r = self.post("/external-task/fetchAndLock", body)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.json

    def fetch_one(self, worker="w1", **kw):
        tasks = self.fetch(worker, **kw)
        assert len(tasks) == 1, tasks
        return tasks[0]


def approved(api, title="Laptop"):
    t = submit(api, title=title)
    r = api.post(f"/api/tickets/{t['id']}/approve", "bob")
    assert r.status_code == 200, r.json
    return t["id"]


def camunda_error(r, status, kind, *fragments):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.json["type"] == kind and set(r.json) == {"type", "message", "code"}, r.json
    for fragment in fragments:
        assert fragment in r.json["message"], r.json
    return r.json["message"]


# ------------------------------------------------------------------ fetchAndLock

def test_a_fetched_task_reads_as_camundas_locked_external_task(api, rest):
    ticket_id = approved(api)
    before = time.time()
    task = rest.fetch_one(lock_ms=60_000)
    assert set(task) == LOCKED_KEYS
    assert (task["topicName"], task["businessKey"], task["workerId"]) == (TOPIC, ticket_id, "w1")
    assert task["activityId"] and task["processInstanceId"] and task["id"]
    assert task["retries"] is None and task["errorMessage"] is None and task["suspended"] is False
    assert task["priority"] == 0 and task["extensionProperties"] == {}
    assert DATE.match(task["lockExpirationTime"]), task["lockExpirationTime"]
    from pflow.adapters.camunda.variables import parse_date

    expires = parse_date(task["lockExpirationTime"]).timestamp()
    assert before + 59 <= expires <= time.time() + 61
    variables = task["variables"]
    assert variables["requester"] == {"type": "String", "value": "alice"}
    assert variables["approved"] == {"type": "Boolean", "value": True}
    assert all(set(v) >= {"type", "value"} for v in variables.values())


def test_the_variables_asked_for_are_the_ones_fetched(api, rest):
    approved(api)
    task = rest.fetch_one(variables=["requester", "no_such_variable"])
    assert task["variables"] == {"requester": {"type": "String", "value": "alice"}}


def test_a_business_key_filter_fetches_only_that_tickets_task(api, rest):
    approved(api, "First")
    second = approved(api, "Second")
    task = rest.fetch_one(max_tasks=5, businessKey=second)
    assert task["businessKey"] == second


def test_a_long_poll_answers_when_a_task_appears(api, rest):
    threading.Timer(0.5, approved, args=(ApiClient(api.app),)).start()
    started = time.monotonic()
    tasks = rest.fetch(wait_ms=15_000)
    waited = time.monotonic() - started
    assert len(tasks) == 1 and tasks[0]["topicName"] == TOPIC
    assert 0.4 <= waited < 10, waited


def test_a_long_poll_with_nothing_to_do_answers_an_empty_list_at_its_timeout(rest):
    started = time.monotonic()
    assert rest.fetch(wait_ms=600) == []
    assert time.monotonic() - started >= 0.55


def test_a_long_poll_is_cut_to_the_configured_maximum(stack, rest):
    stack.container.settings.override(stack.settings.replace(engine_rest_max_wait_ms=300))
    try:
        started = time.monotonic()
        assert rest.fetch(wait_ms=30_000) == []
        assert time.monotonic() - started < 5
    finally:
        stack.container.settings.reset_override()


def test_at_most_half_of_the_http_threads_wait_in_long_polls_and_the_rest_answer_at_once(stack, rest):
    """Each waiting poll holds one of waitress's threads: with 4 of them, two polls wait, a third answers what is
    there now (nothing) instead of taking a thread the API needs; once the waiting ones answer, a poll waits again."""
    from pflow.entrypoints.http import engine_rest

    stack.container.settings.override(stack.settings.replace(http_threads=4))
    try:
        answers: list[list] = []
        waiting = [threading.Thread(target=lambda: answers.append(rest.fetch(wait_ms=2_000))) for _ in range(2)]
        for thread in waiting:
            thread.start()
        wait_until(lambda: engine_rest._waiting.count == 2, timeout=5, message="the two long polls did not wait")
        assert rest.fetch(wait_ms=2_000) == []  # answered at once: the waiting ones are still waiting
        assert all(thread.is_alive() for thread in waiting) and engine_rest._waiting.count == 2
        for thread in waiting:
            thread.join(10)
        assert answers == [[], []] and engine_rest._waiting.count == 0
        started = time.monotonic()
        assert rest.fetch(wait_ms=500) == []
        assert time.monotonic() - started >= 0.45  # a place is free again: this one waited
    finally:
        stack.container.settings.reset_override()


def test_two_workers_polling_at_once_never_get_the_same_task(api, rest):
    ids = {approved(api, f"Ticket {n}") for n in range(6)}
    got: dict[str, list] = {}

    def poll(worker):
        got[worker] = [t["businessKey"] for t in EngineRest(rest.app).fetch(worker, max_tasks=6, wait_ms=200)]

    threads = [threading.Thread(target=poll, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    fetched = [key for keys in got.values() for key in keys]
    assert sorted(fetched) == sorted(ids), got


def test_topics_with_different_lock_durations_are_each_locked_for_their_own(api, stack, rest):
    approved(api)
    body = {"workerId": "w1", "maxTasks": 2, "topics": [{"topicName": "other-topic", "lockDuration": 1_000},
                                                         {"topicName": TOPIC, "lockDuration": 90_000}]}
    r = rest.post("/external-task/fetchAndLock", body)
    (task,) = r.json
    from pflow.adapters.camunda.variables import parse_date

    assert parse_date(task["lockExpirationTime"]).timestamp() > time.time() + 80


# ------------------------------------------------------------------ outcomes, and the ticket following them

def test_a_completed_task_moves_the_ticket_on_at_once(api, rest):
    ticket_id = approved(api)
    assert ticket(api, ticket_id)["status"] == "in_progress"
    task = rest.fetch_one()
    r = rest.post(f"/external-task/{task['id']}/complete", {
        "workerId": "w1", "variables": {"fulfilment_reference": {"type": "String", "value": "REQ-42"}},
        "localVariables": {}})
    assert r.status_code == 204 and r.get_data() == b""
    done = ticket(api, ticket_id)  # no worker, no reconciliation: the completion itself moved it
    assert done["status"] == "completed", done
    assert done["results"].get("fulfilment_reference") == "REQ-42", done["results"]
    assert rest.fetch() == []


def test_a_failure_with_retries_left_makes_the_task_come_back_with_them(api, rest):
    approved(api)
    task = rest.fetch_one()
    r = rest.post(f"/external-task/{task['id']}/failure", {"workerId": "w1", "errorMessage": "backend down",
                                                            "errorDetails": "trace", "retries": 2,
                                                            "retryTimeout": 0})
    assert r.status_code == 204
    again = rest.fetch_one("w2")
    assert (again["id"], again["retries"], again["errorMessage"]) == (task["id"], 2, "backend down")


def test_a_failure_with_no_retries_left_is_an_incident_an_admin_retries(api, rest):
    ticket_id = approved(api)
    task = rest.fetch_one()
    r = rest.post(f"/external-task/{task['id']}/failure", {"workerId": "w1", "errorMessage": "backend down",
                                                            "retries": 0, "retryTimeout": 0})
    assert r.status_code == 204
    assert ticket(api, ticket_id)["status"] == "needs_attention"
    incidents = api.get("/api/incidents", "carol").json
    (item,) = incidents["items"]
    assert (item["ticket_id"], item["error"], item["retries_left"]) == (ticket_id, "backend down", 0)
    assert rest.fetch(wait_ms=300) == []
    assert api.post(f"/api/tickets/{ticket_id}/retry", "carol").status_code == 200
    again = rest.fetch_one("w2")
    assert again["id"] == task["id"] and again["businessKey"] == ticket_id
    assert rest.post(f"/external-task/{again['id']}/complete", {"workerId": "w2"}).status_code == 204
    assert ticket(api, ticket_id)["status"] == "completed"


def test_a_bpmn_error_ends_the_task_and_the_boundary_event_catching_it_takes_over(stack, rest, tmp_path):
    path = shutil.copy(CONTRACT_BPMN / "error.bpmn", tmp_path / "error.bpmn")
    engine = stack.engine
    engine.deploy(path)
    engine.start("contract_error", "order-1", {"item": "desk"})
    task = rest.fetch_one(topics=("contract-error-reserve",))
    assert task["businessKey"] == "order-1" and task["variables"]["item"]["value"] == "desk"
    r = rest.post(f"/external-task/{task['id']}/bpmnError", {
        "workerId": "w1", "errorCode": "OUT_OF_STOCK", "errorMessage": "none left",
        "variables": {"supplier": {"type": "String", "value": "ACME"}}})
    assert r.status_code == 204, r.get_data(as_text=True)
    (reorder,) = engine.open_tasks("order-1")
    assert reorder.definition_key == "Reorder"
    variables = engine.instance("order-1").variables
    assert (variables["errorCode"], variables["errorMessage"], variables["supplier"]) == (
        "OUT_OF_STOCK", "none left", "ACME")
    camunda_error(rest.post(f"/external-task/{task['id']}/complete", {"workerId": "w1"}), 404, "RestException")


def test_an_extended_lock_keeps_the_task_from_other_workers(api, rest):
    approved(api)
    task = rest.fetch_one(lock_ms=1_000)
    assert rest.post(f"/external-task/{task['id']}/extendLock", {"workerId": "w1", "newDuration": 20_000}
                     ).status_code == 204
    time.sleep(1.2)
    assert rest.fetch("w2") == []
    camunda_error(rest.post(f"/external-task/{task['id']}/extendLock", {"workerId": "w2", "newDuration": 5_000}),
                  400, "RestException", "cannot be", "locked by worker 'w1'")
    camunda_error(rest.post(f"/external-task/{task['id']}/extendLock", {"workerId": "w1"}),
                  400, "InvalidRequestException", "newDuration")


def test_an_unlocked_task_is_fetchable_again_at_once_with_its_retries(api, rest):
    approved(api)
    task = rest.fetch_one()
    rest.post(f"/external-task/{task['id']}/failure", {"workerId": "w1", "retries": 2, "retryTimeout": 0})
    held = rest.fetch_one()
    assert rest.post(f"/external-task/{held['id']}/unlock").status_code == 204
    again = rest.fetch_one("w2")
    assert again["id"] == task["id"] and again["retries"] == 2 and again["workerId"] == "w2"
    assert rest.post(f"/external-task/{held['id']}/unlock").status_code == 204  # whoever holds it, as Camunda
    assert rest.post(f"/external-task/{held['id']}/unlock").status_code == 204  # not locked: nothing to do


# ------------------------------------------------------------------ Camunda's errors; bad input loses nothing

@pytest.mark.parametrize("action, body", [
    ("complete", {"workerId": "w1"}),
    ("failure", {"workerId": "w1", "errorMessage": "x", "retries": 1, "retryTimeout": 0}),
    ("bpmnError", {"workerId": "w1", "errorCode": "E"}),
    ("extendLock", {"workerId": "w1", "newDuration": 1000}),
    ("unlock", None),
])
def test_an_unknown_task_is_camundas_404(rest, action, body):
    r = rest.post(f"/external-task/no-such-task/{action}", body)
    camunda_error(r, 404, "RestException", "External task with id no-such-task does not exist")


@pytest.mark.parametrize("action, body, what", [
    ("complete", {"workerId": "w2"}, "Completion"),
    ("failure", {"workerId": "w2", "errorMessage": "x", "retries": 0, "retryTimeout": 0}, "Failure"),
    ("bpmnError", {"workerId": "w2", "errorCode": "E"}, "Bpmn error"),
])
def test_another_workers_task_is_camundas_400_and_stays_with_its_holder(api, rest, action, body, what):
    ticket_id = approved(api)
    task = rest.fetch_one()
    camunda_error(rest.post(f"/external-task/{task['id']}/{action}", body), 400, "RestException",
                  what, "cannot be", "locked by worker 'w1'")
    assert ticket(api, ticket_id)["status"] == "in_progress"
    assert rest.post(f"/external-task/{task['id']}/complete", {"workerId": "w1"}).status_code == 204
    assert ticket(api, ticket_id)["status"] == "completed"


@pytest.mark.parametrize("action, body, field", [
    ("complete", {}, "workerId"),
    ("complete", {"workerId": ""}, "workerId"),
    ("complete", {"workerId": "w1", "variables": {"x": 1}}, "variables"),
    ("failure", {"errorMessage": "x", "retries": 0}, "workerId"),
    ("failure", {"workerId": "w1", "retries": -1}, "retries"),
    ("failure", {"workerId": "w1", "retries": "three"}, "retries"),
    ("bpmnError", {"workerId": "w1"}, "errorCode"),
    ("extendLock", {"newDuration": 1000}, "workerId"),
])
def test_bad_input_is_400_naming_the_field_and_changes_nothing(api, rest, action, body, field):
    ticket_id = approved(api)
    task = rest.fetch_one()
    camunda_error(rest.post(f"/external-task/{task['id']}/{action}", body), 400, "InvalidRequestException", field)
    assert rest.fetch("w2") == []  # still locked by w1, retries untouched
    assert ticket(api, ticket_id)["status"] == "in_progress"
    assert rest.post(f"/external-task/{task['id']}/complete", {"workerId": "w1"}).status_code == 204


@pytest.mark.parametrize("body, field", [
    ({"maxTasks": 1, "topics": [{"topicName": TOPIC, "lockDuration": 1000}]}, "workerId"),
    ({"workerId": "w", "maxTasks": 1, "topics": [{"lockDuration": 1000}]}, "topicName"),
    ({"workerId": "w", "maxTasks": 1, "topics": [{"topicName": TOPIC}]}, "lockDuration"),
    ({"workerId": "w", "maxTasks": 1, "topics": [{"topicName": TOPIC, "lockDuration": 0}]}, "lockDuration"),
    ({"workerId": "w", "maxTasks": -1, "topics": []}, "maxTasks"),
    ({"workerId": "w", "maxTasks": 1, "topics": "ticket-processing"}, "topics"),
    ({"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": "long", "topics": []}, "asyncResponseTimeout"),
])
def test_a_bad_fetch_is_400_naming_the_field_and_locks_nothing(api, rest, body, field):
    approved(api)
    camunda_error(rest.post("/external-task/fetchAndLock", body), 400, "InvalidRequestException", field)
    assert rest.fetch_one()["workerId"] == "w1"


def test_a_body_that_is_not_json_is_400(api, rest):
    approved(api)
    r = rest.post("/external-task/fetchAndLock", data="{not json", content_type="application/json")
    camunda_error(r, 400, "InvalidRequestException", "JSON")
    assert len(rest.fetch()) == 1


def test_engine_and_version_answer_as_camunda(app):
    c = app.test_client()
    r = c.get("/engine-rest/engine")  # open, as on Camunda
    assert r.status_code == 200 and r.json == [{"name": "default"}]
    r = c.get("/engine-rest/version", headers=basic())
    assert r.status_code == 200 and r.json == {"version": "7.24.0"}
    camunda_error(c.get("/engine-rest/process-definition", headers=basic()), 404, "RestException")


# ------------------------------------------------------------------ authentication, on and off

@pytest.mark.parametrize("headers", [
    {},
    basic(password="wrong"),
    basic(user="someone", password=PASSWORD),
    {"Authorization": "Bearer " + PASSWORD},
    {"Authorization": "Basic not-base64!"},
])
def test_without_the_right_credentials_it_is_camundas_401(app, headers):
    c = app.test_client()
    for method, path in (("GET", "/version"), ("POST", "/external-task/fetchAndLock"),
                         ("POST", "/external-task/x/complete")):
        r = c.open(f"/engine-rest{path}", method=method, headers=headers, json={"workerId": "w"})
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers["WWW-Authenticate"] == 'Basic realm="default"' and r.get_data() == b""


def test_pflows_own_token_does_not_open_it_and_its_csrf_check_does_not_apply(api, app):
    token = api.token("carol")
    r = app.test_client().get("/engine-rest/version", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    c = app.test_client()
    c.set_cookie("pflow_session", token, path="/api")  # a browser's session: no X-CSRF-Token needed here
    r = c.post("/engine-rest/external-task/fetchAndLock", headers=basic(),
               json={"workerId": "w", "maxTasks": 1, "topics": []})
    assert r.status_code == 200 and r.json == []


def test_the_openapi_document_does_not_list_it(api):
    paths = api.get("/api/openapi.json").json["paths"]
    assert paths and not [p for p in paths if "engine-rest" in p]


def off_app(tmp_path, **overrides):
    settings = settings_for("embedded", tmp_path, **overrides)
    from pflow.container import build_container

    return create_app(build_container(settings))


def test_without_credentials_configured_it_is_off_and_says_how_to_turn_it_on(tmp_path):
    c = off_app(tmp_path).test_client()
    for path in ("/engine-rest/engine", "/engine-rest/version", "/engine-rest/external-task/fetchAndLock"):
        r = c.post(path, headers=basic(), json={}) if "fetch" in path else c.get(path)
        message = camunda_error(r, 404, "RestException", "PFLOW_ENGINE_REST_USERNAME", "PFLOW_ENGINE_REST_PASSWORD")
        assert PASSWORD not in message


@pytest.mark.parametrize("engine, says", [("camunda", "Camunda or Operaton server"), ("operaton", "WORKFLOW_ENGINE=operaton"),
                                          ("memory", "only on the embedded engine")])
def test_on_another_engine_it_is_off_and_says_why(tmp_path, engine, says):
    overrides = {"workflow_engine": engine, "engine_rest_username": USER, "engine_rest_password": PASSWORD}
    if engine == "memory":
        overrides["database_url"] = "memory://"
    c = off_app(tmp_path, **overrides).test_client()
    camunda_error(c.get("/engine-rest/engine"), 404, "RestException", says)
    camunda_error(c.post("/engine-rest/external-task/fetchAndLock", headers=basic(), json={}), 404, "RestException",
                  says)
