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
from pflow.ports.process import InstanceState
from tests.ledger import Ledger, LedgerTickets
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
    """A ticket of the default type whose manager approved: its process waits at the automated step."""
    ticket_id = str(uuid.uuid4())
    ledger.execute("INSERT INTO tickets VALUES (?, 'in_progress', NULL)", ticket_id)
    engine.start("ticket_approval", ticket_id, {"amount": 1200, "priority": "normal", "ticket_id": ticket_id,
                                                "ticket_type": "it_request", "title": "Laptop",
                                                "requester": "alice"})
    [task] = engine.open_tasks(ticket_id)
    engine.complete_task(task.id, {"approved": True, "comment": ""}, completed_by="bob")
    [step] = engine.automated_steps(ticket_id)
    assert step.topic == "ticket-processing"
    return ticket_id


def completed(engine, ticket_id):
    view = engine.instance(ticket_id)
    return view if view is not None and view.state == InstanceState.COMPLETED else None


def log_of(tmp_path: Path, worker_id: str) -> str:
    return (tmp_path / f"{worker_id}.log").read_text()


@pytest.mark.parametrize("stage, provisioner_calls", [
    ("provisioning", 2),  # killed inside the backend call, before its effect
    ("provisioned", 2),  # killed after the effect, before the task was completed: the call is repeated
    ("completed", 1),  # killed after the task completion, before the ticket followed: no second call at all
])
def test_a_killed_worker_s_task_is_redelivered_and_provisioned_once(setup, stage, provisioner_calls):
    engine, ledger, spawn, tmp_path = setup
    ticket_id = approved_ticket(engine, ledger)
    victim = spawn("victim", pause_at=stage)
    wait_until(lambda: ledger.query("SELECT 1 FROM pauses WHERE worker = 'victim'"), timeout=30,
               message=f"the victim never reached {stage}: {log_of(tmp_path, 'victim')}")
    # Until the engine has moved, the ticket has not: it never claims the step is done ahead of the engine.
    assert ledger.query("SELECT status FROM tickets") == [("in_progress",)]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    rescuer = spawn("rescuer")
    state = wait_until(lambda: completed(engine, ticket_id), timeout=30,
                       message=f"not completed after the crash: {log_of(tmp_path, 'rescuer')}")
    effects = ledger.query("SELECT ticket_id, reference, worker FROM effects")
    assert len(effects) == 1 and effects[0][0] == ticket_id  # provisioned exactly once
    assert state.variables["fulfilment_reference"] == effects[0][1]
    assert [w for (w,) in ledger.query("SELECT worker FROM calls")] == ["victim", "rescuer"][:provisioner_calls]
    if stage == "completed":
        # The engine completed the step, the victim died before the ticket followed: the ticket is behind
        # (in progress), and the next reconciliation pass brings it in line.
        assert ledger.query("SELECT status, reference FROM tickets") == [("in_progress", None)]
        LedgerTickets(ledger, engine).sync(ticket_id)
    else:
        wait_until(lambda: ledger.query("SELECT status FROM tickets") == [("completed",)], timeout=10,
                   message="the ticket did not follow its process")
    assert ledger.query("SELECT status, reference FROM tickets") == [("completed", effects[0][1])]

    # With nothing left to do it may still be starting: stop it once it can stop gracefully.
    wait_until(lambda: "worker rescuer ready" in log_of(tmp_path, "rescuer"), timeout=30,
               message=f"the rescuer never got ready: {log_of(tmp_path, 'rescuer')}")
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0
    done = 1 if stage != "completed" else 0
    assert f"worker rescuer stopped: {done} done" in log_of(tmp_path, "rescuer")


def test_sigterm_lets_the_inflight_task_finish(setup):
    engine, ledger, spawn, tmp_path = setup
    ticket_id = approved_ticket(engine, ledger)
    worker = spawn("graceful", pause_at="slow")
    wait_until(lambda: ledger.query("SELECT 1 FROM pauses"), timeout=30,
               message=f"the handler never started: {log_of(tmp_path, 'graceful')}")
    worker.send_signal(signal.SIGTERM)  # while the handler is in its one-second pause
    assert worker.wait(30) == 0
    assert "worker graceful stopped: 1 done, 0 released" in log_of(tmp_path, "graceful")
    assert completed(engine, ticket_id)
    assert len(ledger.query("SELECT * FROM effects")) == 1
    assert ledger.query("SELECT status FROM tickets") == [("completed",)]


def test_several_worker_processes_share_the_work_without_doing_anything_twice(setup):
    engine, ledger, spawn, tmp_path = setup
    workers = [spawn(f"w{i}") for i in range(3)]
    ticket_ids = [approved_ticket(engine, ledger) for _ in range(30)]
    wait_until(lambda: all(completed(engine, t) for t in ticket_ids)
               and {s for (s,) in ledger.query("SELECT status FROM tickets")} == {"completed"},
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
