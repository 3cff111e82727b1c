"""Faults on the production configuration: PostgreSQL, RabbitMQ and Camunda, with `pflow serve`,
`pflow worker` and `pflow consume` as separate processes.

PostgreSQL and RabbitMQ are the suite's own (tests/faults/services.py), so restarting them
disturbs nobody; Camunda is the shared test engine behind a proxy of this test's own, under a
process key of this test session (tests/camunda/stack.py), so no other run's worker takes these
tasks and these workers take no other run's.

Each scenario runs bounded load (three clients) while one fault happens:
(a) RabbitMQ stops and starts again, (b) PostgreSQL restarts, (c) a worker is SIGKILLed inside a
provisioning call and a new one started, (d) Camunda freezes for three times its timeout,
(e) eight approvals of one ticket race, repeatedly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.camunda import stack as camunda
from tests.faults.conftest import EngineFreezer
from tests.faults.harness import (
    ADMIN,
    REQUESTERS,
    Api,
    Call,
    Load,
    PFlowProcess,
    Recorder,
    Scenario,
    Tap,
    race_approvals,
    session_workflows,
    wait_for,
    write_users_file,
)
from tests.ledger import Ledger
from tests.support import free_port

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.camunda]

CAMUNDA_TIMEOUT_S = 2  # PFLOW_CAMUNDA_TIMEOUT_S: short, so a freeze of a few seconds outlasts it
# A request that needs the engine must be answered within the engine timeout (plus the request's
# own work); one that needs only the database must not notice the engine at all.
ENGINE_BOUND_S = CAMUNDA_TIMEOUT_S * 1.5 + 1.0
DATABASE_ONLY_BOUND_S = 2.0
STALL_BOUND_S = 15.0


@dataclass
class ProductionPFlow:
    tmp_path: Path
    database_url: str
    amqp_url: str
    camunda_url: str
    tap: Tap | None = None
    proxy: object = None  # the TcpProxy in front of Camunda (freezes it)
    processes: list[PFlowProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ledger = Ledger(self.tmp_path / "ledger.db")
        self.ledger.create()
        self.env = {**camunda.ENGINE_ENV, "CAMUNDA_URL": self.camunda_url,
                    "CAMUNDA_PROCESS_KEY": camunda.SESSION_KEY,
                    "PFLOW_WORKFLOWS_DIR": str(session_workflows(self.tmp_path / "workflows", camunda.SESSION_KEY,
                                                                 camunda.session_bpmn())),
                    "DATABASE_URL": self.database_url, "RABBITMQ_URL": self.amqp_url,
                    "PFLOW_CAMUNDA_TIMEOUT_S": str(CAMUNDA_TIMEOUT_S), "PFLOW_WORKER_LOCK_MS": "3000",
                    "PFLOW_SERVE_WORKER": "0", "PFLOW_SERVE_CONSUMER": "0",
                    "PFLOW_USERS_FILE": str(write_users_file(self.tmp_path / "users.json")),
                    "PFLOW_SECRET_KEY": "faults-secret-of-32-bytes-or-more-for-tests-only", "PFLOW_DATA_DIR": str(self.tmp_path / "data"),
                    "PFLOW_UI_DIR": str(self.tmp_path / "no-ui"), "PFLOW_FAULTS_LEDGER": str(self.ledger.path),
                    "PFLOW_FAULTS_PROVISION_DELAY_S": "0.3",
                    # Divergences left by an outage heal by themselves: here within seconds, not a minute.
                    "PFLOW_RECONCILE_INTERVAL_S": "3"}
        migrate = PFlowProcess("pflow migrate", ["migrate"], self.env, self.tmp_path / "migrate.log")
        assert migrate.process.wait(60) == 0, migrate.output()
        self.server = self.spawn("pflow serve", ["serve"], API_HTTP_PORT=f"127.0.0.1:{self.port}")
        self.workers = [self.spawn("pflow worker #1", ["worker"])]
        self.consumer = self.spawn("pflow consume", ["consume"])
        self.server.wait_http(self.url)
        self.workers[0].wait_for_output("polling")
        self.consumer.wait_for_output("Consuming")

    def spawn(self, name: str, command: list[str], **env: str) -> PFlowProcess:
        process = PFlowProcess(name, command, {**self.env, **env},
                               self.tmp_path / (name.replace(" ", "-").replace("#", "") + ".log"))
        self.processes.append(process)
        return process

    def new_worker(self) -> PFlowProcess:
        worker = self.spawn(f"pflow worker #{len(self.workers) + 1}", ["worker"])
        self.workers.append(worker)
        worker.wait_for_output("polling")
        return worker

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def production(tmp_path, private_postgres, private_rabbitmq, camunda_proxy, unique):
    proxy, camunda_url = camunda_proxy
    database_url = private_postgres.create_database(f"pflow_{unique}")
    amqp_url = private_rabbitmq.add_vhost(f"faults_{unique}")
    tap = Tap(amqp_url)  # bound before anything is published
    pflow = ProductionPFlow(tmp_path, database_url, amqp_url, camunda_url, tap=tap, proxy=proxy)
    try:
        yield pflow
    finally:
        pflow.close()


def scenario(pflow: ProductionPFlow) -> Scenario:
    recorder = Recorder()
    api = Api(pflow.url, recorder)
    api.login_all()
    return Scenario(api, recorder, pflow.database_url, pflow.processes, tap=pflow.tap, stall_bound_s=STALL_BOUND_S)


def under_load(run: Scenario, fault, *, clients: int = 3, warmup_flows: int = 3, after_flows: int = 5) -> set[str]:
    """Start the load, let it carry a few tickets, inject ``fault()``, let it carry a few more."""
    load = Load(run.api, clients=clients).start()
    try:
        wait_for(lambda: load.flows >= warmup_flows, 60, f"the load did not get going: {run.recorder.summary()}")
        fault()
        flows = load.flows
        wait_for(lambda: load.flows >= flows + after_flows, 60,
                 f"the load did not carry on after the fault: {run.recorder.summary()}")
    finally:
        load.stop()
    return load.ticket_ids


def test_rabbitmq_stops_and_starts_again_under_load(production, private_rabbitmq):
    """(a) The API does not depend on the broker (the outbox holds events meanwhile); after the
    broker is back every event reaches the consumer once and the test queue."""
    run = scenario(production)

    def fault():
        with run.recorder.outage("RabbitMQ stopped"):
            private_rabbitmq.stop_broker()
            run.recorder.note("RabbitMQ stopped")
            time.sleep(4)
            private_rabbitmq.start_broker()
            run.recorder.note("RabbitMQ started again")

    run.verify(under_load(run, fault), no_failed_attempts=True)


def test_postgresql_restarts_under_load(production, private_postgres):
    """(b) While the database is down requests answer 503; afterwards everything carries on and no
    ticket is stranded: a worker that could not reach its own database spent no retry on it."""
    run = scenario(production)

    def fault():
        with run.recorder.outage("PostgreSQL restarting"):
            private_postgres.stop("fast")
            run.recorder.note("PostgreSQL stopped")
            # Longer than a worker's three attempts with their back-off (1 s, 2 s): an outage of the
            # worker's own database must not use them up.
            time.sleep(6)
            private_postgres.start()
            run.recorder.note("PostgreSQL started again")

    run.verify(under_load(run, fault))


def test_a_worker_killed_mid_task_is_replaced_and_nothing_is_lost(production):
    """(c) SIGKILL inside the provisioning call: the task is redelivered when its lock expires and
    a new worker completes it; the API never notices."""
    run = scenario(production)
    killed: list[str] = []

    def fault():
        victim = production.workers[-1]
        in_flight = wait_for(lambda: production.ledger.in_flight(f"pid{victim.pid}"), 30,
                             "the worker never started a provisioning call")
        victim.kill()
        killed.extend(in_flight)
        run.recorder.note(f"SIGKILLed {victim.name} (pid {victim.pid}) while provisioning {in_flight}")
        production.new_worker()

    tickets = under_load(run, fault)
    run.verify(tickets)
    calls = production.ledger.calls_per_ticket()
    provisioned = {t for (t,) in production.ledger.query("SELECT ticket_id FROM effects")}
    assert all(calls.get(t, 0) >= 2 and t in provisioned for t in killed), \
        f"the interrupted tasks were not provisioned by a later attempt: {killed} {calls}"


def test_a_frozen_engine_is_bounded_and_database_only_requests_go_on(production):
    """(d) Camunda stops answering for three times its timeout: calls that need it answer 503 within
    the timeout, a burst of them does not take the HTTP threads, and lists are served meanwhile."""
    run = scenario(production)
    freezer = EngineFreezer(production.proxy)
    burst: list[Call] = []
    probes: list[Call] = []

    def fault():
        drafts = []
        for n in range(12):
            c = run.api.call(REQUESTERS[n % 2], "POST", "/api/tickets", json={"title": f"Burst {n}", "amount": "5"})
            assert c.status == 201, c.describe()
            drafts.append((REQUESTERS[n % 2], run.api.json(c)["id"]))
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                probes.append(run.api.call(ADMIN, "GET", "/api/tickets", params={"page": 1, "page_size": 5}))
                stop.wait(0.3)

        def submit(user, ticket_id):
            burst.append(run.api.call(user, "POST", f"/api/tickets/{ticket_id}/submit"))

        with run.recorder.outage(f"Camunda frozen ({freezer.method})", grace_s=3.0):
            with freezer.frozen():
                run.recorder.note(f"Camunda frozen by {freezer.method}")
                prober = threading.Thread(target=probe)
                prober.start()
                submits = [threading.Thread(target=submit, args=d) for d in drafts]
                for t in submits:
                    t.start()
                time.sleep(CAMUNDA_TIMEOUT_S * 3)
                stop.set()
                prober.join(60)
            run.recorder.note("Camunda answers again")
            for t in submits:
                t.join(60)

    tickets = under_load(run, fault)
    frozen = run.recorder.windows[0]
    slow_engine = [c for c in run.recorder.calls if c.needs_engine and frozen.overlaps(c) and c.duration > ENGINE_BOUND_S]
    slow_db = [c for c in probes if c.duration > DATABASE_ONLY_BOUND_S]
    run.extra_problems += [f"needs the engine, slower than {ENGINE_BOUND_S:.0f}s: {c.describe()}" for c in slow_engine]
    run.extra_problems += [f"needs only the database, slower than {DATABASE_ONLY_BOUND_S:.0f}s while the engine "
                           f"hangs: {c.describe()}" for c in slow_db]
    run.extra_problems += [f"the burst's submit was not answered: {c.describe()}" for c in burst if c.status is None]
    run.verify(tickets)


def test_eight_approvals_of_one_ticket_race_repeatedly(production):
    """(e) One approval wins each round, the other seven are told 409, nobody waits on a lock."""
    run = scenario(production)
    load = Load(run.api, clients=2).start()
    try:
        tickets, problems = race_approvals(run.api, rounds=8)
    finally:
        load.stop()
    run.extra_problems += problems
    run.verify(set(tickets) | load.ticket_ids, no_failed_attempts=True)
