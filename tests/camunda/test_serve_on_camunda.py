"""`pflow serve` and `pflow worker` on the real Camunda, as processes, through HTTP only — what a new
user does after reading the README: start Camunda, start PFlow, carry a ticket to completed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pflow.adapters.camunda.engine import CamundaWorkflowEngine
from pflow.config import REPO_ROOT
from pflow.container import Container
from tests.camunda import stack as camunda
from tests.support import ServedPFlow, free_port, wait_until

pytestmark = pytest.mark.camunda

# Two processes share tickets only through a database: pflow worker needs the SQL ticket store.
HAS_SQL_STORE = "sql" in Container.uow.providers


def camunda_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    camunda.require_camunda()
    return {**camunda.ENGINE_ENV,
            # this session's process keys, so these processes never take another test run's tasks
            "CAMUNDA_PROCESS_KEY": camunda.SESSION_KEY, "PFLOW_WORKFLOWS_DIR": str(camunda.session_workflows()),
            "PFLOW_DEMO_USERS": "1", "PFLOW_SECRET_KEY": "test-secret-of-32-bytes-or-more-for-tests-only", "DATABASE_URL": f"sqlite:///{tmp_path / 'pflow.db'}",
            "RABBITMQ_URL": "memory://", "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_UI_DIR": str(tmp_path / "no-ui"),
            **extra}


class WorkerProcess:
    """`pflow worker` as a child process, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "worker"], cwd=REPO_ROOT,
                                        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def login(url: str, user: str) -> dict[str, str]:
    r = requests.post(url + "/api/auth/login", json={"username": user, "password": user}, timeout=5)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def carry_a_ticket_to_completed(url: str) -> dict:
    alice, bob = login(url, "alice"), login(url, "bob")
    t = requests.post(url + "/api/tickets", json={"title": "Laptop", "amount": "999"}, headers=alice, timeout=10).json()
    r = requests.post(f"{url}/api/tickets/{t['id']}/submit", headers=alice, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(f"{url}/api/tickets/{t['id']}/approve", headers=bob, json={"comment": "ok"}, timeout=10)
    assert r.status_code == 200, r.text

    def ticket():
        return requests.get(f"{url}/api/tickets/{t['id']}", headers=alice, timeout=10).json()

    done = wait_until(lambda: (x := ticket())["status"] == "completed" and x, timeout=30,
                      message="the ticket did not complete")
    history = requests.get(f"{url}/api/tickets/{t['id']}/history", headers=alice, timeout=10).json()
    assert done["current_steps"] == [] and [h["action"] for h in history].count("step_completed") == 1
    # The ticket is committed as completed just before the worker completes the external task.
    process = wait_until(lambda: (p := requests.get(f"{url}/api/tickets/{t['id']}/process", headers=alice,
                                                    timeout=10).json())["state"] == "completed" and p,
                         timeout=30, message="the process did not end")
    assert "Completed" in process["completed_activity_ids"]
    assert f'id="{camunda.SESSION_KEY}"' in process["definition_xml"]
    # The provisioning step's result is a process variable, as any automated step's is.
    direct = CamundaWorkflowEngine(camunda.CAMUNDA_URL, camunda.SESSION_KEY, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    try:
        assert direct.instance(t["id"]).variables["fulfilment_reference"].startswith("PRV-")
    finally:
        direct.close()
    return done


def test_serve_with_its_worker_carries_a_ticket_to_completed(tmp_path):
    server = ServedPFlow(camunda_env(tmp_path, PFLOW_SERVE_WORKER="1"), free_port())
    try:
        server.wait_ready()
        ready = requests.get(server.url + "/readyz", timeout=10).json()
        assert ready["status"] == "ready" and ready["checks"]["workflow_engine"] == "ok"
        carry_a_ticket_to_completed(server.url)
    finally:
        assert server.stop() == 0
    assert f"engine: {camunda.FLAVOUR}" in server.output()


@pytest.mark.skipif(not HAS_SQL_STORE, reason="pflow serve and pflow worker share tickets only through a database; "
                                              "this build has no SQL ticket store yet")
def test_serve_and_a_separate_worker_carry_a_ticket_to_completed(tmp_path):
    env = camunda_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'pflow.db'}")
    server = ServedPFlow(env, free_port())
    worker = None
    try:
        server.wait_ready()
        worker = WorkerProcess(env, tmp_path / "worker.log")
        carry_a_ticket_to_completed(server.url)
    finally:
        if worker:
            assert worker.stop() == 0, worker.output()
        assert server.stop() == 0
    assert f"polling ticket-processing on the {camunda.FLAVOUR} engine" in worker.output()


def test_serve_does_not_start_without_camunda_and_says_what_to_do(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/engine-rest"
    run = subprocess.run([sys.executable, "-m", "pflow.entrypoints.cli", "serve"], cwd=REPO_ROOT, timeout=60,
                         env={**os.environ, **camunda_env(tmp_path, CAMUNDA_URL=closed),
                              "API_HTTP_PORT": f"127.0.0.1:{free_port()}"},
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{camunda.ENGINE_NAME} is not reachable at {closed}: connection refused" in run.stderr
    assert f"make {camunda.FLAVOUR}-up" in run.stderr and "Traceback" not in run.stderr


def test_serve_does_not_start_with_a_bpmn_camunda_refuses(tmp_path):
    folder = tmp_path / "workflows"
    shutil.copytree(camunda.session_workflows(), folder)
    broken = folder / "ticket-process.bpmn"
    broken.write_text(broken.read_text().replace('targetRef="Rejected"', 'targetRef="Nowhere"'))
    run = subprocess.run([sys.executable, "-m", "pflow.entrypoints.cli", "serve"], cwd=REPO_ROOT, timeout=60,
                         env={**os.environ, **camunda_env(tmp_path, PFLOW_WORKFLOWS_DIR=str(folder)),
                              "API_HTTP_PORT": f"127.0.0.1:{free_port()}"},
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{camunda.ENGINE_NAME} refused ticket-process.bpmn" in run.stderr and "Flow_Rejected" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_worker_without_camunda_backs_off_and_stops_cleanly(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/engine-rest"
    worker = WorkerProcess(camunda_env(tmp_path, CAMUNDA_URL=closed), tmp_path / "worker.log")
    try:
        wait_until(lambda: worker.output().count("retrying in") >= 3, timeout=30,
                   message=f"the worker did not back off: {worker.output()}")
        assert worker.process.poll() is None
        assert worker.stop() == 0
    finally:
        worker.kill()
    out = worker.output()
    assert f"{camunda.ENGINE_NAME} is not reachable at {closed}: connection refused" in out and "Traceback" not in out
    assert "retrying in 0.5s" in out and "retrying in 1.0s" in out  # backing off, not hammering
