"""Faults on the embedded default, as `make run` runs it: one `pflow serve` process (API, embedded
SpiffWorkflow engine, worker, relay and consumer) on a SQLite file and the local event store.

The embedded default has no broker, no database server and no separate engine to lose; what can
go wrong for its users is concurrency inside the one process and the process dying. So:

* (e) eight approvals of one ticket at once, again and again, while other clients work;
* (c) the process SIGKILLed while its worker is inside a provisioning call, then started again;
* (f) the provisioning backend down: tickets need attention until an admin retries them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import ADMIN, Api, Load, PFlowProcess, Recorder, Scenario, race_approvals, wait_for, \
    write_users_file
from tests.ledger import Ledger
from tests.support import free_port

pytestmark = pytest.mark.faults

# Well under the 30 s pool and SQLite busy timeouts: a request this slow waited on one of them.
STALL_BOUND_S = 10.0


class EmbeddedPFlow:
    def __init__(self, tmp_path: Path, *, provision_delay_s: float = 0.2, **env: str) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ledger = Ledger(tmp_path / "ledger.db")
        self.ledger.create()
        self.database_url = f"sqlite:///{tmp_path / 'data' / 'pflow.db'}"
        self.env = {"PFLOW_DATA_DIR": str(tmp_path / "data"), "PFLOW_UI_DIR": str(tmp_path / "no-ui"),
                    "PFLOW_USERS_FILE": str(write_users_file(tmp_path / "users.json")),
                    "PFLOW_SECRET_KEY": "faults-secret-of-32-bytes-or-more-for-tests-only", "API_HTTP_PORT": f"127.0.0.1:{self.port}",
                    "PFLOW_FAULTS_LEDGER": str(self.ledger.path),
                    "PFLOW_FAULTS_PROVISION_DELAY_S": str(provision_delay_s)}
        for name in ("WORKFLOW_ENGINE", "DATABASE_URL", "RABBITMQ_URL"):  # the embedded default, not the caller's
            self.env[name] = ""
        self.env.update(env)
        self.processes: list[PFlowProcess] = []
        self.server = self.start()

    def start(self) -> PFlowProcess:
        server = PFlowProcess(f"pflow serve #{len(self.processes) + 1}", ["serve"], self.env,
                              self.tmp_path / f"serve-{len(self.processes) + 1}.log")
        self.processes.append(server)
        server.wait_http(self.url)
        self.server = server
        return server

    def close(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def embedded(tmp_path):
    pflow = EmbeddedPFlow(tmp_path)
    yield pflow
    pflow.close()


def scenario(pflow: EmbeddedPFlow) -> Scenario:
    recorder = Recorder()
    api = Api(pflow.url, recorder)
    api.login_all()
    return Scenario(api, recorder, pflow.database_url, pflow.processes, stall_bound_s=STALL_BOUND_S)


def test_eight_approvals_of_one_ticket_race_while_others_work(embedded):
    """(e) Exactly one approval wins each round, the others are told 409; nobody waits on the
    writer lock or the connection pool; the worker's first attempt does not collide with the
    approval that woke it; every ticket completes and its events go out once."""
    run = scenario(embedded)
    load = Load(run.api, clients=2).start()
    try:
        tickets, problems = race_approvals(run.api, rounds=20)
    finally:
        load.stop()
    run.extra_problems += problems
    run.verify(set(tickets) | load.ticket_ids, no_failed_attempts=True)


def test_serve_killed_mid_provisioning_and_started_again(embedded):
    """(c) SIGKILL while the built-in worker is inside the provisioning call: clients see refused
    connections only while the process is gone; after the restart every ticket completes (the
    interrupted task is picked up again), and no event is lost or notified twice."""
    run = scenario(embedded)
    load = Load(run.api, clients=3).start()
    try:
        wait_for(lambda: load.flows >= 3, 60, "the load did not get going")
        victim = embedded.server
        in_flight = wait_for(lambda: embedded.ledger.in_flight(f"pid{victim.pid}"), 30,
                             "the worker never started a provisioning call")
        with run.recorder.outage("pflow serve killed", api_down=True, grace_s=2.0):
            victim.kill()
            run.recorder.note(f"SIGKILLed pflow serve (pid {victim.pid}) while provisioning {in_flight}")
            embedded.start()
        flows = load.flows
        wait_for(lambda: load.flows >= flows + 5, 60, "the load did not resume after the restart")
    finally:
        load.stop()
    run.verify(load.ticket_ids)
    # The interrupted calls never finished, so each of those tickets was provisioned by a later call.
    calls = embedded.ledger.calls_per_ticket()
    provisioned = {t for (t,) in embedded.ledger.query("SELECT ticket_id FROM effects")}
    assert all(calls.get(t, 0) >= 2 and t in provisioned for t in in_flight), (in_flight, calls)


def test_a_failing_backend_leaves_tickets_needing_attention_until_an_admin_retries(tmp_path):
    """(f) The provisioning backend refuses every call: each approved ticket uses up its retries and
    needs attention, with the failed step's error, and ``retry`` offered to admins only; it never
    claims to be done. Once the backend is back, the admin's retry carries every one to completed."""
    flag = tmp_path / "backend-down"
    flag.write_text("down")
    pflow = EmbeddedPFlow(tmp_path, PFLOW_FAULTS_FAIL_FLAG=str(flag), PFLOW_WORKER_RETRY_BACKOFF_MS="100")
    try:
        run = scenario(pflow)
        load = Load(run.api, clients=2, max_flows=3).start()
        wait_for(lambda: load.flows == 6, 60, f"the load did not carry its tickets: {run.recorder.summary()}")
        load.stop()

        def all_need_attention():
            seen = [run.api.ticket(t) for t in load.ticket_ids]
            return all(t and t["status"] == "needs_attention" for t in seen) and seen

        tickets = wait_for(all_need_attention, 60, "the failed tickets did not need attention")
        for t in tickets:
            assert "fault injected" in (t["attention"] or ""), t
            assert t["current_steps"] == ["Provision Service"] and t["steps"] == [], t
            assert "retry" in t["allowed_actions"], t  # read as the admin
            as_requester = run.api.ticket(t["id"], t["requester"])
            assert "retry" not in as_requester["allowed_actions"] and as_requester["status"] == "needs_attention"
        assert pflow.ledger.query("SELECT * FROM effects") == []  # nothing provisioned, nothing claimed
        flag.unlink()
        run.verify(load.ticket_ids)  # the way out: the admin's retry, then completed
        retried = [h for t in load.ticket_ids for h in run.api.json(
            run.api.call(ADMIN, "GET", f"/api/tickets/{t}/history", record=False)) if h["action"] == "retried"]
        assert len(retried) == len(load.ticket_ids) and {h["actor"] for h in retried} == {ADMIN}
    finally:
        pflow.close()
