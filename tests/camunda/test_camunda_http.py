"""The Camunda adapter's HTTP edge and typed variables, against a scripted HTTP server (no engine needed):
what a stopping engine, a wrong URL, a lost answer and a slow engine look like to PFlow."""

from __future__ import annotations

import enum
import json
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.adapters.camunda.variables import from_typed, from_typed_map, to_typed, to_typed_map
from pflow.domain.errors import ConcurrencyConflict, EngineAccessDenied, EngineUnavailable, ValidationError
from pflow.ports.process import TaskLockedByOtherWorker, TaskNotFound
from tests.support import free_port, wait_until


class Script:
    """What the fake engine answers: ``routes[(method, path)]`` is a list of answers used in turn
    (the last one repeats); an answer is (status, content type, body), "drop" or ("sleep", seconds)."""

    def __init__(self):
        self.routes: dict[tuple[str, str], list] = {}
        self.calls: list[tuple[str, str, bytes]] = []
        self.authorization: list[tuple[str, str, str | None]] = []  # (method, path, Authorization header)

    default = (404, "text/html", "<html>nope</html>")  # the answer to a route not scripted

    def on(self, method, path, *answers):
        self.routes[(method, path)] = list(answers)


def camunda_error(status, type_, message, code=0):
    return status, "application/json", json.dumps({"type": type_, "message": message, "code": code})


@pytest.fixture
def fake():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0].removeprefix("/engine-rest")
            script.calls.append((self.command, path, body))
            script.authorization.append((self.command, path, self.headers.get("Authorization")))
            answers = script.routes.get((self.command, path)) or [script.default]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if answer == "drop":  # the request arrived, the answer never does
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if answer[0] == "sleep":
                time.sleep(answer[1])
                answer = (200, "application/json", "[]")
            status, ctype, text = answer
            data = text.encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="default"')
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}/engine-rest"
    yield script
    server.shutdown()
    server.server_close()


@pytest.fixture
def engine(fake):
    e = CamundaWorkflowEngine(fake.url, timeout_s=1, retry_pause_s=0.01)
    yield e
    e.close()


def calls(fake, method, path):
    return [c for c in fake.calls if c[:2] == (method, path)]


# --- engine unavailable -----------------------------------------------------------------------

def test_a_closed_port_says_camunda_is_not_reachable_and_what_to_do():
    url = f"http://127.0.0.1:{free_port()}/engine-rest"
    engine = CamundaWorkflowEngine(url)
    with pytest.raises(EngineUnavailable) as err:
        engine.start("ticket_approval", "TCK-1", {})
    message = err.value.message
    assert "Camunda is not reachable at " + url in message and "connection refused" in message
    assert "make camunda-up" in message and "CAMUNDA_URL" in message
    assert err.value.dependency == "Camunda"
    # An API client learns what is down and why, not where it runs or how a developer starts it.
    public = err.value.public_message
    assert public.startswith("Camunda is not reachable: connection refused")
    assert "127.0.0.1" not in public and "camunda-up" not in public and "CAMUNDA_URL" not in public
    assert "127.0.0.1" not in str(err.value.details)


def test_an_html_error_page_while_the_engine_stops_is_unavailability(fake, engine):
    fake.on("GET", "/version", (500, "text/html", "<html><body>HTTP Status 500</body></html>"))
    with pytest.raises(EngineUnavailable) as err:
        engine.check()
    assert "without an error body" in err.value.message


def test_a_url_that_is_not_the_rest_root_is_named(fake):
    engine = CamundaWorkflowEngine(fake.url.removesuffix("/engine-rest"), timeout_s=1)
    with pytest.raises(EngineUnavailable) as err:
        engine.check()
    assert "not Camunda's REST API" in err.value.message and "/engine-rest" in err.value.message


def test_a_slow_engine_times_out_as_unavailable(fake, engine):
    fake.on("GET", "/version", ("sleep", 1.5))
    with pytest.raises(EngineUnavailable) as err:
        engine.check()
    assert "no answer within 1s" in err.value.message


class FrozenEngine:
    """Accepts connections and reads requests, but never answers (a SIGSTOPped engine)."""

    def __init__(self):
        import socket

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/engine-rest"
        self.held = []
        self.requests = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)
            self.requests += 1

    def close(self):
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def frozen():
    f = FrozenEngine()
    yield f
    f.close()


@pytest.mark.parametrize("call", [
    pytest.param(lambda e: e.check(), id="check"),
    pytest.param(lambda e: e.start("ticket_approval", "TCK-1", {}), id="start"),
    pytest.param(lambda e: e.instance("TCK-1"), id="instance"),
    pytest.param(lambda e: e.complete("t1", "w1", {}), id="complete"),
])
def test_a_frozen_engine_costs_a_call_its_stated_timeout_in_total_not_once_per_retry(frozen, call):
    engine = CamundaWorkflowEngine(frozen.url, timeout_s=1, retry_pause_s=0.01)
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailable) as err:
            call(engine)
        took = time.monotonic() - started
    finally:
        engine.close()
    assert 0.9 <= took < 1.4, f"the call took {took:.2f}s for a stated bound of 1s"
    assert "no answer within 1s" in err.value.message and "no answer within 1s" in err.value.public_message


def test_a_refused_connect_is_still_retried_within_the_budget(fake):
    url = f"http://127.0.0.1:{free_port()}/engine-rest"
    engine = CamundaWorkflowEngine(url, timeout_s=1, retry_pause_s=0.01)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as err:
        engine.check()
    assert time.monotonic() - started < 0.5 and "connection refused" in err.value.message


# --- retries: idempotent calls only ------------------------------------------------------------

def test_gateway_errors_are_retried_for_reads_but_not_for_a_start(fake, engine):
    busy = (503, "text/html", "<html>busy</html>")
    fake.on("GET", "/version", busy, busy, (200, "application/json", '{"version": "7.24.0"}'))
    engine.check()
    assert len(calls(fake, "GET", "/version")) == 3
    fake.on("GET", "/process-instance", (200, "application/json", "[]"))
    fake.on("POST", "/process-definition/key/ticket_approval/start", busy)
    with pytest.raises(EngineUnavailable):
        engine.start("ticket_approval", "TCK-1", {"requester": "alice"})
    assert len(calls(fake, "POST", "/process-definition/key/ticket_approval/start")) == 1


def test_a_start_whose_answer_was_lost_is_found_not_repeated(fake, engine):
    fake.on("GET", "/process-instance", (200, "application/json", "[]"),
            (200, "application/json", json.dumps([{"id": "pi-1", "businessKey": "TCK-1",
                                                           "definitionId": "ticket_approval:1:d-1",
                                                           "definitionKey": "ticket_approval"}])))
    fake.on("POST", "/process-definition/key/ticket_approval/start", "drop")
    instance = engine.start("ticket_approval", "TCK-1", {"requester": "alice"})
    assert (instance.id, instance.created) == ("pi-1", True)
    assert len(calls(fake, "POST", "/process-definition/key/ticket_approval/start")) == 1


# --- external-task completion whose answer was lost -------------------------------------------

def test_a_lost_completion_answer_is_checked_in_history(fake, engine):
    not_found = camunda_error(404, "RestException", "External task with id t1 does not exist")
    fake.on("POST", "/external-task/t1/complete", "drop", not_found)
    fake.on("GET", "/history/external-task-log",
            (200, "application/json", json.dumps([{"externalTaskId": "t1", "workerId": "w1", "successLog": True}])))
    engine.complete("t1", "w1", {"fulfilment_reference": "PRV-1"})
    sent = [json.loads(body) for _, _, body in calls(fake, "POST", "/external-task/t1/complete")]
    assert len(sent) == 2 and sent[0] == sent[1]
    assert sent[0]["variables"] == {"fulfilment_reference": {"value": "PRV-1", "type": "String"}}


def test_a_completion_by_someone_else_is_still_task_not_found(fake, engine):
    not_found = camunda_error(404, "RestException", "External task with id t1 does not exist")
    fake.on("POST", "/external-task/t1/complete", "drop", not_found)
    fake.on("GET", "/history/external-task-log",
            (200, "application/json", json.dumps([{"externalTaskId": "t1", "workerId": "w2", "successLog": True}])))
    with pytest.raises(TaskNotFound):
        engine.complete("t1", "w1")


ENGINE_03051 = camunda_error(500, "ProcessEngineException", "ENGINE-03051 There was an exception while invoking the "
                             "TaskListener. Message: 'Cannot invoke \"org.camunda.bpm.engine.impl.pvm.process.ScopeImpl"
                             ".isSubProcessScope()\" because the return value of ... is null'")


def test_camunda_failing_on_a_task_another_request_just_completed_is_task_not_found(fake, engine):
    """Camunda 7.24 answers 500 when a user task is completed while another request sets its assignee."""
    open_task = (200, "application/json", json.dumps({"id": "u1", "assignee": None}))
    fake.on("POST", "/task/u1/claim", ENGINE_03051)
    fake.on("GET", "/task/u1", open_task, camunda_error(404, "InvalidRequestException", "No matching task with id u1"))
    with pytest.raises(TaskNotFound):
        engine.complete_task("u1", {"approved": True}, completed_by="dave")


def test_a_server_error_on_a_task_that_is_still_open_stays_an_error(fake, engine):
    fake.on("POST", "/task/u1/claim", ENGINE_03051)
    fake.on("GET", "/task/u1", (200, "application/json", json.dumps({"id": "u1", "assignee": None})))
    with pytest.raises(Exception) as caught:
        engine.complete_task("u1", {"approved": True}, completed_by="dave")
    assert not isinstance(caught.value, TaskNotFound)


def test_a_plain_404_is_not_checked_in_history(fake, engine):
    fake.on("POST", "/external-task/t1/complete",
            camunda_error(404, "RestException", "External task with id t1 does not exist"))
    with pytest.raises(TaskNotFound):
        engine.complete("t1", "w1")
    assert not calls(fake, "GET", "/history/external-task-log")


def test_an_engine_that_stays_away_is_unavailable_after_a_few_tries(fake, engine):
    fake.on("POST", "/external-task/t1/complete", "drop")
    with pytest.raises(EngineUnavailable):
        engine.complete("t1", "w1")
    assert len(calls(fake, "POST", "/external-task/t1/complete")) == engine.report_attempts


@pytest.mark.parametrize("message", [
    "External Task t1 cannot be completed by worker 'w1'. It is locked by worker 'w2'.",
    "Cannot extend a lock that expired: lockExpirationTime is not greater than or equal to 1795831398557",
])
def test_lock_errors_map_to_locked_by_other_worker(fake, engine, message):
    fake.on("POST", "/external-task/t1/complete", camunda_error(400, "RestException", message))
    with pytest.raises(TaskLockedByOtherWorker):
        engine.complete("t1", "w1")


# --- typed variables ---------------------------------------------------------------------------

class Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize("value, typed", [
    (True, {"value": True, "type": "Boolean"}),
    (False, {"value": False, "type": "Boolean"}),
    (7, {"value": 7, "type": "Integer"}),
    (2**40, {"value": 2**40, "type": "Long"}),
    (1.5, {"value": 1.5, "type": "Double"}),
    (Decimal("12.50"), {"value": 12.5, "type": "Double"}),
    ("text", {"value": "text", "type": "String"}),
    (None, {"value": None, "type": "Null"}),
    (Colour.RED, {"value": "red", "type": "String"}),
    ({"a": [1, 2]}, {"value": '{"a": [1, 2]}', "type": "Json"}),
    (datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
     {"value": "2024-01-02T03:04:05.678+0000", "type": "Date"}),
])
def test_python_values_become_camunda_typed_values(value, typed):
    assert to_typed("v", value) == typed


def test_typed_values_come_back_as_python_values():
    variables = {"approved": True, "count": 3, "big": 2**40, "ratio": 0.25, "comment": "fine", "nothing": None,
                 "payload": {"items": [1, "two"]}, "when": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
                 "raw": b"\x00\x01"}
    assert from_typed_map(to_typed_map(variables)) == variables
    assert from_typed({"type": "Short", "value": 2, "valueInfo": {}}) == 2


@pytest.mark.parametrize("value, reason", [(float("nan"), "finite"), (object(), "unsupported type object"),
                                           ({"x": object()}, "JSON")])
def test_values_camunda_cannot_store_are_refused_naming_the_variable(value, reason):
    with pytest.raises(ValidationError) as err:
        to_typed_map({"ok": 1, "bad": value})
    assert "'bad'" in err.value.message and reason in err.value.message
    assert list(err.value.details) == ["bad"]


# --- user-task completion ---------------------------------------------------------------------

def open_task(assignee=None):
    return (200, "application/json", json.dumps({"id": "ut1", "assignee": assignee, "taskDefinitionKey": "Review",
                                                 "processDefinitionId": "p:1:d", "processInstanceId": "pi-1"}))


def test_a_completion_the_engine_does_not_answer_gives_its_claim_back(fake, engine):
    fake.on("GET", "/task/ut1", open_task())
    fake.on("POST", "/task/ut1/claim", (204, "application/json", ""))
    fake.on("POST", "/task/ut1/complete", "drop")
    fake.on("POST", "/task/ut1/unclaim", (204, "application/json", ""))
    with pytest.raises(EngineUnavailable):
        engine.complete_task("ut1", {"approved": True}, completed_by="bob")
    assert json.loads(calls(fake, "POST", "/task/ut1/claim")[0][2]) == {"userId": "bob"}
    assert len(calls(fake, "POST", "/task/ut1/complete")) == 1  # a completion is never sent twice
    assert len(calls(fake, "POST", "/task/ut1/unclaim")) == 1


def test_a_claim_lost_to_another_completer_is_a_conflict_and_nothing_is_completed(fake, engine):
    fake.on("GET", "/task/ut1", open_task())
    fake.on("POST", "/task/ut1/claim", camunda_error(500, "TaskAlreadyClaimedException",
                                                     "Task 'ut1' is already claimed by someone else."))
    with pytest.raises(ConcurrencyConflict):
        engine.complete_task("ut1", {"approved": True}, completed_by="bob")
    assert calls(fake, "POST", "/task/ut1/complete") == [] and calls(fake, "POST", "/task/ut1/unclaim") == []


def test_a_task_being_completed_by_another_user_is_a_conflict(fake, engine):
    fake.on("GET", "/task/ut1", open_task(assignee="carol"))
    fake.on("GET", "/process-definition/p:1:d/xml", camunda_error(404, "RestException", "no such definition"))
    fake.on("GET", "/history/identity-link-log", (200, "application/json", json.dumps(
        [{"time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "userId": "carol"}])))
    with pytest.raises(ConcurrencyConflict) as err:
        engine.complete_task("ut1", {"approved": True}, completed_by="bob")
    assert "carol" in err.value.message and calls(fake, "POST", "/task/ut1/complete") == []


# --- credentials (CAMUNDA_USERNAME / CAMUNDA_PASSWORD) -------------------------------------------

USER, PASSWORD = "pflow", "s3cret-pässword"


def basic(user, password):
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def authed(fake):
    e = CamundaWorkflowEngine(fake.url, ["ticket_approval"], timeout_s=1, retry_pause_s=0.01, auth=(USER, PASSWORD))
    yield e
    e.close()


def test_every_call_sends_basic_authentication_start_complete_fetch_and_deploy(fake, authed, tmp_path):
    from pflow.config import REPO_ROOT

    fake.on("GET", "/process-instance", (200, "application/json", "[]"),
            (200, "application/json", json.dumps([{"id": "pi-1", "businessKey": "TCK-1",
                                                   "definitionId": "ticket_approval:1:d-1",
                                                   "definitionKey": "ticket_approval"}])))
    fake.on("POST", "/process-definition/key/ticket_approval/start",
            (200, "application/json", json.dumps({"id": "pi-1", "businessKey": "TCK-1",
                                                  "definitionId": "ticket_approval:1:d-1"})))
    assert authed.start("ticket_approval", "TCK-1", {"requester": "alice"}).created
    fake.on("GET", "/task/ut1", open_task(assignee="bob"))
    fake.on("POST", "/task/ut1/complete", (204, "application/json", ""))
    authed.complete_task("ut1", {"approved": True}, completed_by="bob")
    fake.on("POST", "/external-task/fetchAndLock", (200, "application/json", "[]"))
    assert authed.fetch_and_lock("w1", ["ticket-processing"], max_tasks=1, lock_duration_ms=1000, wait_ms=10) == []
    fake.on("POST", "/external-task/et1/complete", (204, "application/json", ""))
    authed.complete("et1", "w1", {"serviceRef": "svc-1"})
    fake.on("GET", "/version", (200, "application/json", '{"version": "7.24.0"}'))
    authed.check()
    before_deploy = len(fake.authorization)
    with pytest.raises(Exception):  # the fake knows no deployments: what matters is what was sent
        authed.deploy(REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn")
    assert len(fake.authorization) > before_deploy  # the deploy asked the engine something

    sent = {(method, path) for method, path, _ in fake.authorization}
    for call in [("POST", "/process-definition/key/ticket_approval/start"), ("POST", "/task/ut1/complete"),
                 ("POST", "/external-task/fetchAndLock"), ("POST", "/external-task/et1/complete"),
                 ("GET", "/version")]:
        assert call in sent, call
    headers = {header for _, _, header in fake.authorization}
    assert headers == {basic(USER, PASSWORD)}, headers  # every single request, deploys included


def test_without_credentials_no_authorization_header_is_sent(fake, engine):
    fake.on("GET", "/version", (200, "application/json", '{"version": "7.24.0"}'))
    engine.check()
    assert fake.authorization == [("GET", "/version", None)]


def test_refused_credentials_are_a_clear_error_at_once_not_an_outage_to_retry(fake, authed):
    fake.on("POST", "/process-definition/key/ticket_approval/start", (401, "text/plain", ""))
    fake.on("GET", "/process-instance", (401, "text/plain", ""))
    fake.on("POST", "/external-task/fetchAndLock", (401, "text/plain", ""))
    fake.on("POST", "/external-task/et1/complete", (401, "text/plain", ""))
    fake.on("GET", "/version", (401, "text/plain", ""))
    for call in (lambda: authed.start("ticket_approval", "TCK-1", {}), authed.check,
                 lambda: authed.fetch_and_lock("w1", ["ticket-processing"], lock_duration_ms=1000, wait_ms=10),
                 lambda: authed.complete("et1", "w1", {})):
        fake.calls.clear()
        with pytest.raises(EngineAccessDenied) as err:
            call()
        assert not isinstance(err.value, EngineUnavailable)  # nothing treats it as "try again"
        assert len(fake.calls) == 1, fake.calls  # asked once: no retry of any kind
        message = err.value.message
        assert "refused PFlow's credentials" in message and "user 'pflow'" in message
        assert "CAMUNDA_USERNAME" in message and "CAMUNDA_PASSWORD" in message and fake.url in message
        assert PASSWORD not in message and PASSWORD not in str(err.value.details)
        assert err.value.dependency == "Camunda" and err.value.key == "service.misconfigured"
        public = err.value.public_message
        assert "refused PFlow's credentials" in public and "127.0.0.1" not in public and "CAMUNDA_" not in public


def test_an_engine_that_needs_credentials_when_none_are_set_says_what_to_set(fake, engine):
    fake.on("GET", "/version", (401, "text/plain", ""))
    with pytest.raises(EngineAccessDenied) as err:
        engine.check()
    assert "requires credentials" in err.value.message and "PFlow sent none" in err.value.message
    assert "set CAMUNDA_USERNAME and CAMUNDA_PASSWORD" in err.value.message


def test_a_missing_permission_names_the_user_and_camundas_reason(fake, authed):
    fake.on("POST", "/external-task/fetchAndLock", camunda_error(
        403, "AuthorizationException", "The user with id 'pflow' does not have 'READ' permission on resource "
                                       "'ProcessDefinition'."))
    with pytest.raises(EngineAccessDenied) as err:
        authed.fetch_and_lock("w1", ["ticket-processing"], lock_duration_ms=1000, wait_ms=10)
    assert "denied user 'pflow' POST /external-task/fetchAndLock" in err.value.message
    assert "'READ' permission" in err.value.message and err.value.details["reason"] == "permission_denied"
    assert len(fake.calls) == 1


def test_the_password_never_reaches_the_log(fake, authed, caplog):
    fake.on("POST", "/process-definition/key/ticket_approval/start", (401, "text/plain", ""))
    fake.on("GET", "/process-instance", (200, "application/json", "[]"))
    with caplog.at_level("DEBUG"):
        with pytest.raises(EngineAccessDenied):
            authed.start("ticket_approval", "TCK-1", {})
    assert PASSWORD not in caplog.text and basic(USER, PASSWORD).split()[1] not in caplog.text


def test_a_worker_whose_credentials_are_refused_says_so_once_and_stops_fetching(fake, authed, caplog):
    """Asking again would not help, and each refused password makes Camunda lock the user out for a while
    (for good after ten), which would lock out every PFlow process that uses that user correctly."""
    from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings

    class Handler:
        topic = "ticket-processing"

        def handle(self, task):
            raise AssertionError("no task can be fetched")

    fake.on("POST", "/external-task/fetchAndLock", (401, "text/plain", ""))
    worker = ExternalTaskWorker(authed, [Handler()], WorkerSettings(worker_id="w1", concurrency=2, poll_wait_ms=10,
                                                                      engine_backoff_max_s=0.2))
    with caplog.at_level("INFO", logger="pflow.runtime.worker"):
        worker.start()
        try:
            wait_until(lambda: worker.gave_up is not None, timeout=5)
            time.sleep(1.0)  # an outage would have been asked again several times by now (backoff 0.2 s)
        finally:
            worker.stop()
    assert len(calls(fake, "POST", "/external-task/fetchAndLock")) == 1
    assert isinstance(worker.gave_up, EngineAccessDenied)
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "refused PFlow's credentials" in r.getMessage()]
    assert len(errors) == 1 and "CAMUNDA_PASSWORD" in errors[0].getMessage()
    assert "stops fetching" in errors[0].getMessage() and "retrying" not in caplog.text
    assert PASSWORD not in caplog.text


def test_readiness_and_the_api_say_the_engine_refused_pflows_credentials(fake, tmp_path):
    from pflow.config import Settings
    from pflow.container import build_container, shutdown
    from pflow.entrypoints.http import create_app
    from tests.conftest import ApiClient
    from tests.support import TEST_USERS, test_workflows

    fake.default = (401, "text/plain", "")  # every call
    settings = Settings(workflow_engine="camunda", camunda_url=fake.url, camunda_username=USER,
                        camunda_password=PASSWORD, camunda_timeout_s=2, database_url="memory://",
                        rabbitmq_url="memory://", secret_key="test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
                        data_dir=tmp_path, workflows_dir=test_workflows(tmp_path / "workflows"),
                        ui_dir=tmp_path / "no-ui")
    container = build_container(settings)
    container.users.override(TEST_USERS)
    try:
        api = ApiClient(create_app(container))
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json["error"]["details"]["unavailable"] == ["workflow_engine"]
        check = ready.json["checks"]["workflow_engine"]
        assert "refused PFlow's credentials" in check and "CAMUNDA_USERNAME" in check and "CAMUNDA_PASSWORD" in check
        assert PASSWORD not in ready.get_data(as_text=True)

        draft = api.post("/api/tickets", "alice", json={"title": "Laptop"})
        assert draft.status_code == 201, draft.json
        fake.calls.clear()
        r = api.post(f"/api/tickets/{draft.json['id']}/submit", "alice")
        assert r.status_code == 503 and "Retry-After" not in r.headers  # waiting does not fix a setting
        error = r.json["error"]
        assert error["code"] == "service_unavailable" and error["key"] == "service.misconfigured"
        assert error["params"] == {"dependency": "Camunda"} and error["details"]["dependency"] == "Camunda"
        assert "refused PFlow's credentials" in error["message"] and fake.url not in str(r.json)
        assert len(fake.calls) == 1  # refused once, not retried
        assert api.get(f"/api/tickets/{draft.json['id']}", "alice").json["status"] == "draft"
    finally:
        shutdown(container)


def test_a_slow_connect_leaves_less_time_to_wait_for_the_answer(frozen, monkeypatch):
    # a dropped SYN is retried by the kernel after a second: the connect then eats most of the budget,
    # and the wait for the answer must get only what is left, not a fresh budget of its own
    import urllib3.connection

    connect = urllib3.connection.HTTPConnection._new_conn

    def slow_connect(self):
        time.sleep(0.7)
        return connect(self)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", slow_connect)
    engine = CamundaWorkflowEngine(frozen.url, timeout_s=1, retry_pause_s=0.01)
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailable):
            engine.instance("TCK-1")
        took = time.monotonic() - started
    finally:
        engine.close()
    assert took < 1.4, f"connect 0.7s + wait took {took:.2f}s for a stated bound of 1s"
