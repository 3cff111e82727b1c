"""Camunda's official external-task clients (Java, Python, JavaScript), unchanged, carry PFlow tickets on
every engine PFlow runs on: the example workers of examples/external-task-clients do the purchase request's
automated step (Place Order, topic ticket-processing) while PFlow is used through its HTTP API only.

Per client and engine three tickets, each with a worker of its own, all clients' tickets on an engine at once (PFLOW_WORKER_BUSINESS_KEY: it
fetches that ticket's tasks only, so no worker takes another run's, or another ticket's, tasks):

- a small purchase the manager approves: the client completes Place Order with provisionedBy, the ticket
  ends ``completed``;
- a title with ``[bpmn-error]``: the client reports the BPMN error ORDER_REFUSED, the ticket ends
  ``rejected`` at "Order refused";
- a title with ``[fail]``: the client fails the first attempt with no retries left, PFlow shows the incident,
  an admin retries it, the client completes it, the ticket ends ``completed``.

Engines: PFlow's embedded engine, whose Camunda-compatible REST ``pflow serve`` answers under /engine-rest
(PFLOW_ENGINE_REST_USERNAME / _PASSWORD), and the Camunda 7 REST engine under test (``camunda`` mark,
PFLOW_TEST_CAMUNDA_URL): Camunda 7.24 in `make test`'s first pass, Operaton in its second
(tests/camunda/stack.py). One ``pflow serve`` per engine for the module, PFlow's own worker off
(PFLOW_SERVE_WORKER=0: the client gets every ticket-processing task); on Camunda and Operaton the ticket
follows the engine through the reconciler, which `pflow serve` runs with or without its worker.

A missing java/mvn or node/npm skips that client, unless PFLOW_REQUIRE_SERVICES=1 (then it fails).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from pflow.config import REPO_ROOT
from tests.camunda import stack as camunda
from tests.support import ServedPFlow, free_port, wait_until

EXAMPLES = REPO_ROOT / "examples" / "external-task-clients"
REST_USER, REST_PASSWORD = "pflow-rest", "pflow-rest-test-only"  # the embedded engine's REST, for these tests
REQUIRE = os.environ.get("PFLOW_REQUIRE_SERVICES") == "1"
TIMEOUT = 60  # seconds for a ticket to reach what a step waits for

CLIENTS = {"java": "camunda-java-client", "python": "camunda-python-client", "js": "camunda-js-client"}
ENGINES = [
    pytest.param("embedded", id="embedded"),
    # Camunda 7.24, or Operaton in the second pass (tests/camunda/stack.py FLAVOUR)
    pytest.param(camunda.FLAVOUR, id=camunda.FLAVOUR, marks=pytest.mark.camunda),
]


def missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} (PFLOW_REQUIRE_SERVICES=1)")
    pytest.skip(what)


# --- the clients, built once per session -------------------------------------------------------------

_built: dict[str, list[str] | str] = {}
_build_lock = threading.Lock()


class _Missing(Exception):
    pass


def _build(client: str) -> list[str]:
    if client == "java":
        if not (shutil.which("java") and shutil.which("mvn")):
            raise _Missing("the Java example needs java and mvn on PATH")
        folder = EXAMPLES / "java"
        run = subprocess.run(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=folder, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, f"mvn package failed:\n{run.stdout}\n{run.stderr}"
        jar = folder / "target" / "pflow-java-worker.jar"
        assert jar.exists(), f"mvn package made no {jar}"
        return ["java", "-jar", str(jar)]
    if client == "js":
        if not (shutil.which("node") and shutil.which("npm")):
            raise _Missing("the JavaScript example needs node and npm on PATH")
        folder = EXAMPLES / "js"
        if not (folder / "node_modules" / "camunda-external-task-client-js").exists():
            run = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True,
                                 text=True, timeout=600)
            assert run.returncode == 0, f"npm ci failed:\n{run.stdout}\n{run.stderr}"
        return ["node", str(folder / "worker.mjs")]
    if client == "python":
        if importlib.util.find_spec("camunda") is None:
            raise _Missing("the Python example needs camunda-external-task-client-python3 installed")
        return [sys.executable, str(EXAMPLES / "python" / "worker.py")]
    raise ValueError(client)


class ClientWorker:
    """An example worker as a child process, its output in a file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(command, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None


# --- PFlow on each engine, one server per engine for the module ---------------------------------------

class Served(ServedPFlow):
    """`pflow serve` as ServedPFlow starts it, its output in a file: a module's worth of log lines would fill
    a pipe nobody reads, and the server would stop answering."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port, self.url, self.log = port, f"http://127.0.0.1:{port}", log
        self.process = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "serve"], cwd=REPO_ROOT,
                                        env={**os.environ, **env, "API_HTTP_PORT": f"127.0.0.1:{port}"},
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Engine:
    def __init__(self, kind: str, server: ServedPFlow, rest_url: str, auth: tuple[str, str], keys: str) -> None:
        self.kind, self.server, self.rest_url, self.auth, self.keys = kind, server, rest_url, auth, keys

    @property
    def url(self) -> str:
        return self.server.url

    def client_env(self, business_key: str) -> dict[str, str]:
        return {"CAMUNDA_URL": self.rest_url, "CAMUNDA_USERNAME": self.auth[0], "CAMUNDA_PASSWORD": self.auth[1],
                "PFLOW_WORKER_BUSINESS_KEY": business_key}


_engines: dict[str, Engine] = {}


@pytest.fixture(scope="module")
def engines():
    yield _engines
    for engine in _engines.values():
        code = engine.server.stop(60)
        assert code == 0, engine.server.output()
    _engines.clear()


def _start(kind: str) -> Engine:
    data = Path(tempfile.mkdtemp(prefix=f"pflow-clients-{kind}-"))
    env = {"PFLOW_DEMO_USERS": "1", "PFLOW_SECRET_KEY": "test-secret-of-32-bytes-or-more-for-tests-only",
           "DATABASE_URL": f"sqlite:///{data / 'pflow.db'}", "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(data), "PFLOW_UI_DIR": str(data / "no-ui"), "PFLOW_RECONCILE_INTERVAL_S": "1"}
    if kind == "embedded":
        # PFlow's own worker off, so the client under test gets every ticket-processing task; threads for the
        # three workers' long polls (docs/workers.md: at most half of the threads wait at once)
        env.update(WORKFLOW_ENGINE="embedded", PFLOW_SERVE_WORKER="0", PFLOW_ENGINE_REST_USERNAME=REST_USER,
                   PFLOW_ENGINE_REST_PASSWORD=REST_PASSWORD, PFLOW_HTTP_THREADS="32")
        port = free_port()
        server = Served(env, port, data / "serve.log")
        engine = Engine(kind, server, f"http://127.0.0.1:{port}/engine-rest", (REST_USER, REST_PASSWORD), "")
    else:
        env.update({**camunda.ENGINE_ENV, "CAMUNDA_URL": camunda.require_camunda(),
                    # this session's process keys: nothing here touches another test run's instances
                    "CAMUNDA_PROCESS_KEY": camunda.SESSION_KEY,
                    "PFLOW_WORKFLOWS_DIR": str(camunda.session_workflows()),
                    # the default on Camunda and Operaton: the client under test gets every ticket-processing task
                    "PFLOW_SERVE_WORKER": "0"})
        rest = camunda.CAMUNDA_URL
        server = Served(env, free_port(), data / "serve.log")
        engine = Engine(kind, server, rest, camunda.AUTH, camunda.session_process_key("purchase_request"))
    try:
        server.wait_ready(60)
    except AssertionError:
        server.stop(60)
        raise
    return engine


@pytest.fixture
def engine(request, engines) -> Engine:
    kind = request.param
    if kind not in engines:
        engines[kind] = _start(kind)
    return engines[kind]


# --- PFlow's HTTP API ---------------------------------------------------------------------------------

class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self._tokens: dict[str, str] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self._tokens:
            r = requests.post(self.url + "/api/auth/login", json={"username": user, "password": user}, timeout=10)
            assert r.status_code == 200, r.text
            self._tokens[user] = r.json()["token"]
        return {"Authorization": "Bearer " + self._tokens[user]}

    def post(self, path: str, user: str, body: dict | None = None, expect: int = 200) -> dict:
        r = requests.post(self.url + path, json=body or {}, headers=self.headers(user), timeout=30)
        assert r.status_code == expect, (path, r.status_code, r.text)
        return r.json()

    def get(self, path: str, user: str = "alice"):
        r = requests.get(self.url + path, headers=self.headers(user), timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def ticket(self, ticket_id: str) -> dict:
        return self.get(f"/api/tickets/{ticket_id}")

    def wait_for(self, ticket_id: str, status: str, worker: ClientWorker) -> dict:
        last: dict = {}

        def reached():
            nonlocal last
            last = self.ticket(ticket_id)
            return last["status"] == status and last

        return wait_until(reached, timeout=TIMEOUT, interval=0.3,
                          message=f"ticket {ticket_id} did not become {status}: {last.get('status')}, "
                                  f"attention {last.get('attention')!r}; the worker said:\n{worker.output()}")


def purchase_draft(api: Api, title: str) -> dict:
    return api.post("/api/tickets", "alice", {"type": "purchase_request", "title": title,
                                              "fields": {"amount": 250, "supplier": "ACME"}}, expect=201)


def to_place_order(api: Api, ticket_id: str) -> None:
    """Submit the draft and let the manager approve it: Place Order is next (250 needs no finance)."""
    api.post(f"/api/tickets/{ticket_id}/submit", "alice")
    after = api.post(f"/api/tickets/{ticket_id}/approve", "bob", {"comment": "fine"})
    # (the client may have done Place Order before the approval's answer came back)
    assert after["steps"] == [] and after["current_steps"] in (["Place Order"], []), after


def ordered(api: Api, engine: Engine, ticket_id: str, worker: ClientWorker, client_name: str) -> None:
    done = api.wait_for(ticket_id, "completed", worker)
    assert done["current_steps"] == [] and done["attention"] is None
    process = wait_until(lambda: (p := api.get(f"/api/tickets/{ticket_id}/process"))["state"] == "completed" and p,
                         timeout=TIMEOUT, message="the process did not end")
    assert "Completed" in process["completed_activity_ids"] and "OrderRefused" not in process["completed_activity_ids"]
    # What the step returned, where PFlow shows automated steps' results
    results = wait_until(lambda: api.ticket(ticket_id)["results"].get("provisionedBy") and api.ticket(ticket_id),
                         timeout=TIMEOUT, message=f"provisionedBy is not among the results of {ticket_id}: "
                                                  f"{api.ticket(ticket_id)['results']}")["results"]
    assert results["provisionedBy"] == client_name
    entries = [h for h in api.get(f"/api/tickets/{ticket_id}/history") if h["action"] == "step_results"]
    assert entries and entries[-1]["details"]["results"]["provisionedBy"] == client_name


def scenario_completes(api: Api, engine: Engine, ticket_id: str, worker: ClientWorker, client_name: str) -> None:
    to_place_order(api, ticket_id)
    ordered(api, engine, ticket_id, worker, client_name)
    assert "completed" in worker.output()


def scenario_refused(api: Api, engine: Engine, ticket_id: str, worker: ClientWorker, client_name: str) -> None:
    to_place_order(api, ticket_id)
    done = api.wait_for(ticket_id, "rejected", worker)
    assert done["current_steps"] == [] and "provisionedBy" not in done["results"]
    process = api.get(f"/api/tickets/{ticket_id}/process")
    assert process["state"] == "completed" and "OrderRefused" in process["completed_activity_ids"]
    assert "Completed" not in process["completed_activity_ids"]
    assert "bpmn error ORDER_REFUSED" in worker.output()


def scenario_fails_then_retried(api: Api, engine: Engine, ticket_id: str, worker: ClientWorker,
                                client_name: str) -> None:
    to_place_order(api, ticket_id)
    stuck = api.wait_for(ticket_id, "needs_attention", worker)
    assert stuck["attention_key"] == "attention.step_failed", stuck
    incidents = api.get("/api/incidents", "carol")["items"]
    [incident] = [i for i in incidents if i["ticket_id"] == ticket_id]
    assert incident["step_id"] == "PlaceOrder" and incident["retries_left"] == 0
    assert "the order system is down" in incident["error"]
    process = api.get(f"/api/tickets/{ticket_id}/process")
    assert process["incidents"], process
    assert "failed (no retries left" in worker.output()
    api.post(f"/api/tickets/{ticket_id}/retry", "carol", {"comment": "the order system is back"})
    ordered(api, engine, ticket_id, worker, client_name)
    history = [h["action"] for h in api.get(f"/api/tickets/{ticket_id}/history")]
    assert "retried" in history and "resumed" in history, history


SCENARIOS = {"Office chairs": scenario_completes, "Desks [bpmn-error]": scenario_refused,
             "Monitors [fail]": scenario_fails_then_retried}


def _built_client(client: str) -> list[str] | str:
    """``client``'s command line, or why it cannot run here (built on first use, once per session)."""
    with _build_lock:
        if client not in _built:
            try:
                _built[client] = _build(client)
            except _Missing as exc:
                _built[client] = str(exc)
        return _built[client]


def _run_all_clients(engine: Engine, tmp_path: Path) -> dict[str, str | None]:
    """Every client's three scenarios on ``engine`` at once (nine tickets, nine workers): per client, None
    when all went well, else what went wrong. A client that cannot run here is left out."""
    api = Api(engine.url)
    for user in ("alice", "bob", "carol"):  # one login each, before the scenarios run side by side
        api.headers(user)
    runnable = {c: cmd for c in CLIENTS if not isinstance(cmd := _built_client(c), str)}
    tickets = {(c, title): purchase_draft(api, f"{title} ({c} on {engine.kind})")["id"]
               for c in runnable for title in SCENARIOS}
    workers: dict[tuple[str, str], ClientWorker] = {}
    errors: dict[tuple[str, str], BaseException] = {}

    def run(key: tuple[str, str]) -> None:
        client, title = key
        try:
            SCENARIOS[title](api, engine, tickets[key], workers[key], CLIENTS[client])
        except BaseException as exc:  # reported by the client's test, with the scenario's name
            errors[key] = exc

    try:
        for key, ticket_id in tickets.items():
            workers[key] = ClientWorker(runnable[key[0]], engine.client_env(ticket_id),
                                        tmp_path / f"{key[0]}-{ticket_id}.log")
        for (client, _), worker in workers.items():
            wait_until(lambda: "polling ticket-processing" in worker.output() or worker.process.poll() is not None,
                       timeout=90, interval=0.1, message=f"the {client} worker did not start:\n{worker.output()}")
            assert worker.process.poll() is None, f"the {client} worker exited:\n{worker.output()}"
        threads = [threading.Thread(target=run, args=(key,)) for key in tickets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 4)
    finally:
        codes = {key: worker.stop() for key, worker in workers.items()}
    outcome: dict[str, str | None] = {}
    for client in runnable:
        problems = [f"{title!r}: {errors[(client, title)]!r}\nworker output:\n{workers[(client, title)].output()}"
                    for title in SCENARIOS if (client, title) in errors]
        # each worker stops cleanly on SIGTERM, saying so
        problems += [f"{title!r}: the worker exited with {codes[(client, title)]} on SIGTERM:\n"
                     f"{workers[(client, title)].output()}" for title in SCENARIOS
                     if codes[(client, title)] != 0 or "stopped" not in workers[(client, title)].output()]
        outcome[client] = "\n\n".join(problems) or None
    return outcome


_outcomes: dict[str, dict[str, str | None]] = {}


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@pytest.mark.parametrize("client", list(CLIENTS))
def test_an_official_client_carries_purchase_requests(client, engine, tmp_path_factory):
    built = _built_client(client)
    if isinstance(built, str):
        missing(built)
    if engine.kind not in _outcomes:  # the first client's test on this engine runs every client's tickets
        _outcomes[engine.kind] = _run_all_clients(engine, tmp_path_factory.mktemp(f"clients-{engine.kind}"))
    problem = _outcomes[engine.kind][client]
    assert problem is None, f"the {client} client on {engine.kind}:\n{problem}"
