"""Worker processes on the real Camunda: killed mid-task, several sharing the topic, Camunda going away.

Real processes (``tests.camunda.worker_process``) run the real worker runtime, provisioning handler
and Camunda adapter; a shared SQLite ledger counts what the provisioning backend really did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.config import REPO_ROOT
from pflow.ports.process import InstanceState
from tests.camunda import stack as camunda
from tests.tcp_proxy import TcpProxy
from tests.ledger import Ledger, LedgerTickets
from tests.support import wait_until

pytestmark = pytest.mark.camunda


class Workers:
    def __init__(self, url: str, tmp_path: Path):
        self.url = url
        self.tmp_path = tmp_path
        self.engine = CamundaWorkflowEngine(url, camunda.SESSION_KEY, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
        self.engine.deploy(camunda.session_bpmn())
        self.ledger = Ledger(tmp_path / "ledger.db")
        self.ledger.create()
        self.procs: list[subprocess.Popen] = []
        self.tickets: list[str] = []

    def spawn(self, worker_id: str, *, pause_at: str | None = None, url: str | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "tests.camunda.worker_process", "--url", url or self.url, "--process-key",
               camunda.SESSION_KEY, "--ledger", str(self.ledger.path), "--worker-id", worker_id, "--lock-ms", "2000"]
        if pause_at:
            cmd += ["--pause-at", pause_at]
        log = open(self.tmp_path / f"{worker_id}.log", "w")
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **camunda.AUTH_ENV, "PYTHONUNBUFFERED": "1"})
        self.procs.append(proc)
        return proc

    def log(self, worker_id: str) -> str:
        return (self.tmp_path / f"{worker_id}.log").read_text()

    def approved_ticket(self) -> str:
        """A ticket in progress whose process waits at the provisioning task (the manager approved)."""
        ticket_id = f"TCK-{uuid.uuid4()}"
        self.tickets.append(ticket_id)
        self.ledger.execute("INSERT INTO tickets VALUES (?, 'in_progress', NULL)", ticket_id)
        self.engine.start(camunda.SESSION_KEY, ticket_id, {"requester": "alice"})
        [task] = self.engine.open_tasks(ticket_id)
        self.engine.complete_task(task.id, {"approved": True, "comment": ""}, completed_by="bob")
        return ticket_id

    def completed(self, ticket_id: str) -> bool:
        state = self.engine.instance(ticket_id)
        return state is not None and state.state == InstanceState.COMPLETED

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for ticket_id in self.tickets:
            self.engine.cancel(ticket_id, "test finished")
        self.engine.close()


@pytest.fixture
def workers(tmp_path):
    w = Workers(camunda.require_camunda(), tmp_path)
    yield w
    w.close()


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


@pytest.mark.parametrize("stage, provisioner_calls", [
    ("provisioning", ["victim", "rescuer"]),  # killed inside the backend call: the rescuer calls it again
    ("provisioned", ["victim", "rescuer"]),  # killed after the effect, before completing the task: called again
    ("completed", ["victim"]),  # killed after completing the task, before the ticket followed: not called again
])
def test_a_killed_worker_s_task_is_redelivered_after_its_lock_expires_and_provisioned_once(
        workers, stage, provisioner_calls):
    ticket_id = workers.approved_ticket()
    victim = workers.spawn("victim", pause_at=stage)
    wait_until(lambda: workers.ledger.query("SELECT 1 FROM pauses WHERE worker = 'victim'"), timeout=30,
               message=f"the victim never reached {stage}: {workers.log('victim')}")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    # Until the engine has moved, the ticket has not: it never claims the step is done ahead of the engine.
    assert workers.ledger.query("SELECT status FROM tickets") == [("in_progress",)]
    if stage != "completed":
        [locked] = workers.engine.automated_steps(ticket_id)
        assert locked.worker_id == "victim"  # still locked by the dead worker until the lock runs out

    rescuer = workers.spawn("rescuer")
    wait_until(lambda: workers.completed(ticket_id), timeout=30,
               message=f"not completed after the crash: {workers.log('rescuer')}")
    [(effect_ticket, reference, _)] = workers.ledger.query("SELECT * FROM effects")
    assert effect_ticket == ticket_id  # provisioned exactly once
    assert [w for (w,) in workers.ledger.query("SELECT worker FROM calls")] == provisioner_calls
    assert workers.engine.instance(ticket_id).variables["fulfilment_reference"] == reference
    if stage == "completed":
        # The victim died before the ticket followed the engine: the ticket is behind, and the next
        # reconciliation pass brings it in line.
        assert workers.ledger.query("SELECT status, reference FROM tickets") == [("in_progress", None)]
        LedgerTickets(workers.ledger, workers.engine).sync(ticket_id)
    else:
        wait_until(lambda: workers.ledger.query("SELECT status FROM tickets") == [("completed",)], timeout=10,
                   message="the ticket did not follow its process")
    assert workers.ledger.query("SELECT status, reference FROM tickets") == [("completed", reference)]
    wait_until(lambda: "worker rescuer ready" in workers.log("rescuer"), timeout=30,
               message=f"the rescuer never got ready: {workers.log('rescuer')}")
    assert stop(rescuer) == 0
    done = 1 if stage != "completed" else 0
    assert f"worker rescuer stopped: {done} done, 0 failed" in workers.log("rescuer")


def test_several_worker_processes_share_the_topic_and_do_everything_once(workers):
    procs = [workers.spawn(f"w{i}") for i in range(3)]
    ticket_ids = [workers.approved_ticket() for _ in range(24)]
    wait_until(lambda: all(workers.completed(t) for t in ticket_ids), timeout=60,
               message="not all tickets were provisioned: " + " | ".join(workers.log(f"w{i}")[-500:] for i in range(3)))
    calls = sorted(t for (t,) in workers.ledger.query("SELECT ticket_id FROM calls"))
    assert calls == sorted(ticket_ids)  # each ticket provisioned once, by one worker
    assert {s for (s,) in workers.ledger.query("SELECT status FROM tickets")} == {"completed"}
    assert [stop(p) for p in procs] == [0, 0, 0]
    done = [int(workers.log(f"w{i}").split("stopped: ")[1].split(" done")[0]) for i in range(3)]
    assert sum(done) == 24


def test_a_worker_survives_camunda_going_away_and_loses_no_task(workers):
    proxy = TcpProxy.for_url(workers.url)
    try:
        worker = workers.spawn("survivor", url=proxy.url_for(workers.url))
        wait_until(lambda: "worker survivor ready" in workers.log("survivor"), timeout=30,
                   message=workers.log("survivor"))
        proxy.cut()  # Camunda "stops": open polls are dropped, new connections refused
        wait_until(lambda: workers.log("survivor").count("Camunda is not reachable") >= 2, timeout=30,
                   message=f"the worker did not report the outage: {workers.log('survivor')}")
        ticket_id = workers.approved_ticket()  # work arrives while the worker cannot reach Camunda
        assert worker.poll() is None  # backing off, not crashed
        proxy.restore()
        wait_until(lambda: workers.completed(ticket_id), timeout=30,
                   message=f"the task was not done after Camunda came back: {workers.log('survivor')}")
        assert len(workers.ledger.query("SELECT * FROM effects")) == 1
        log = workers.log("survivor")
        assert "retrying in" in log and "Camunda reachable again" in log and "Traceback" not in log
        assert stop(worker) == 0
    finally:
        proxy.close()
