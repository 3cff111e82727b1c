"""Worker processes crash or stop mid-task; provisioning still happens exactly once.

Real processes (``tests.integration.crash_worker``) run the real worker runtime and
provisioning handler on the embedded engine, on a SQLite file and on PostgreSQL
(``integration`` mark). A shared ledger counts the provisioning backend's effects.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pflow.config import REPO_ROOT
from pflow.ports.workflow import InstanceState
from tests.ledger import Ledger
from tests.support import BPMN, embedded_database_url, make_embedded_engine, wait_until

KINDS = [pytest.param("embedded", id="sqlite"),
         pytest.param("embedded-postgres", id="postgres", marks=pytest.mark.integration)]


@pytest.fixture(params=KINDS)
def setup(request, tmp_path):
    engine = make_embedded_engine(request.param, tmp_path)
    engine.deploy(BPMN)
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.create()
    procs: list[subprocess.Popen] = []

    def spawn(worker_id: str, pause_at: str | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "tests.integration.crash_worker", "--db",
               embedded_database_url(request.param, tmp_path), "--ledger", str(ledger.path),
               "--worker-id", worker_id, "--lock-ms", "1500"]
        if pause_at:
            cmd += ["--pause-at", pause_at]
        log = open(tmp_path / f"{worker_id}.log", "w")
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        procs.append(proc)
        return proc

    yield engine, ledger, spawn, tmp_path
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    engine.close()


def approved_ticket(engine, ledger) -> str:
    ticket_id = str(uuid.uuid4())
    ledger.execute("INSERT INTO tickets VALUES (?, 'approved', NULL)", ticket_id)
    engine.start_process(ticket_id, {"requester": "alice"})
    task = engine.find_user_task(ticket_id)
    engine.complete_user_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, assignee="bob")
    return ticket_id


def log_of(tmp_path: Path, worker_id: str) -> str:
    return (tmp_path / f"{worker_id}.log").read_text()


@pytest.mark.parametrize("stage, provisioner_calls", [
    ("provisioning", 2),  # killed inside the backend call, before its effect
    ("provisioned", 2),  # killed after the effect, before the ticket was committed: the call is repeated
    ("committed", 1),  # killed after the ticket commit, before the task completion: no second call at all
])
def test_a_killed_worker_s_task_is_redelivered_and_provisioned_once(setup, stage, provisioner_calls):
    engine, ledger, spawn, tmp_path = setup
    ticket_id = approved_ticket(engine, ledger)
    victim = spawn("victim", pause_at=stage)
    wait_until(lambda: ledger.query("SELECT 1 FROM pauses WHERE worker = 'victim'"), timeout=30,
               message=f"the victim never reached {stage}: {log_of(tmp_path, 'victim')}")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    rescuer = spawn("rescuer")
    state = wait_until(lambda: (s := engine.process_state(ticket_id)) and s.state == InstanceState.COMPLETED and s,
                       timeout=30, message=f"not completed after the crash: {log_of(tmp_path, 'rescuer')}")
    effects = ledger.query("SELECT ticket_id, reference, worker FROM effects")
    [(status, reference)] = ledger.query("SELECT status, reference FROM tickets")
    assert len(effects) == 1 and effects[0][0] == ticket_id  # provisioned exactly once
    assert status == "completed" and reference == effects[0][1]
    assert state.variables["fulfilment_reference"] == reference
    assert [w for (w,) in ledger.query("SELECT worker FROM calls")] == ["victim", "rescuer"][:provisioner_calls]

    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0
    assert "worker rescuer stopped: 1 done" in log_of(tmp_path, "rescuer")


def test_sigterm_lets_the_inflight_task_finish(setup):
    engine, ledger, spawn, tmp_path = setup
    ticket_id = approved_ticket(engine, ledger)
    worker = spawn("graceful", pause_at="slow")
    wait_until(lambda: ledger.query("SELECT 1 FROM pauses"), timeout=30,
               message=f"the handler never started: {log_of(tmp_path, 'graceful')}")
    worker.send_signal(signal.SIGTERM)  # while the handler is in its one-second pause
    assert worker.wait(30) == 0
    assert "worker graceful stopped: 1 done, 0 released" in log_of(tmp_path, "graceful")
    assert engine.process_state(ticket_id).state == InstanceState.COMPLETED
    assert len(ledger.query("SELECT * FROM effects")) == 1


def test_several_worker_processes_share_the_work_without_doing_anything_twice(setup):
    engine, ledger, spawn, tmp_path = setup
    workers = [spawn(f"w{i}") for i in range(3)]
    ticket_ids = [approved_ticket(engine, ledger) for _ in range(30)]
    wait_until(lambda: all(engine.process_state(t).state == InstanceState.COMPLETED for t in ticket_ids),
               timeout=60, message="not all tickets were provisioned: "
                                   + " | ".join(log_of(tmp_path, f"w{i}")[-500:] for i in range(3)))
    calls = [ticket for (ticket,) in ledger.query("SELECT ticket_id FROM calls")]
    assert sorted(calls) == sorted(ticket_ids)  # each provisioned once, by one worker
    assert len(ledger.query("SELECT * FROM effects")) == 30
    assert {status for (status,) in ledger.query("SELECT status FROM tickets")} == {"completed"}
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(30) for worker in workers] == [0, 0, 0]
    done = [int(log_of(tmp_path, f"w{i}").split("stopped: ")[1].split(" done")[0]) for i in range(3)]
    assert sum(done) == 30
