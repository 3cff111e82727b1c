"""The API under gunicorn as an operator runs it (docs/production-server.md): several worker processes, a
separate `pflow worker`, one /metrics for all of them, JSON log lines with request ids, SIGHUP reloads and
SIGTERM stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.support import REPO_ROOT, free_port, pg_url, require_postgres, reset_postgres, wait_until

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:pflow.entrypoints.http.gunicorn_conf",
            "pflow.entrypoints.http.wsgi:app"]
METRICS_TOKEN = "scrape-token-0123456789"


class Gunicorn:
    """gunicorn serving PFlow's API on a free local port; its log (stderr) goes to a file the test reads."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(GUNICORN, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **env, "API_HTTP_PORT": f"127.0.0.1:{self.port}"})

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                return requests.get(self.url + "/readyz", timeout=2).ok and len(self.worker_pids()) == workers
            except requests.ConnectionError:
                return False

        wait_until(up, timeout=timeout, interval=0.2, message=f"gunicorn did not come up:\n{self.log()}")

    def worker_pids(self) -> set[int]:
        """The master's child processes, from /proc."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.add(int(stat.parent.name))
        return children

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def stop(self, timeout: float = 40.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()


def migrated_postgres_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an embedded-engine PFlow on the test PostgreSQL (emptied, then migrated by
    `pflow migrate`): 2 gunicorn workers of 2 threads, demo users, in-memory events; ``extra`` on top."""
    require_postgres()
    reset_postgres()
    database = pg_url().replace("postgresql+psycopg2://", "postgresql://")
    env = {"WORKFLOW_ENGINE": "embedded", "DATABASE_URL": database, "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(tmp_path / "var"), "PFLOW_UI_DIR": str(tmp_path / "no-ui"),
           "PFLOW_SECRET_KEY": "k" * 48, "PFLOW_DEMO_USERS": "1", "PFLOW_WEB_WORKERS": "2",
           "PFLOW_WEB_THREADS": "2", **extra}
    migrated = subprocess.run([sys.executable, "-m", "pflow.entrypoints.cli", "migrate"], cwd=REPO_ROOT,
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    return env


def login(url: str, user: str) -> dict[str, str]:
    r = requests.post(url + "/api/auth/login", json={"username": user, "password": user}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def scrape(url: str) -> str:
    r = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@pytest.mark.integration
def test_two_worker_processes_serve_one_flow_that_a_separate_worker_completes(tmp_path):
    """Tokens, tickets and metrics are shared across gunicorn's processes; the API runs no worker of its own,
    so the ticket waits at provisioning until `pflow worker` runs."""
    env = migrated_postgres_env(tmp_path, PFLOW_LOG_FORMAT="json", PFLOW_METRICS_TOKEN=METRICS_TOKEN)
    server = Gunicorn(env, tmp_path)
    worker = None
    try:
        server.wait_ready(workers=2)
        alice, bob = login(server.url, "alice"), login(server.url, "bob")
        # Keep-alive off (a new connection each time), so the requests spread over both processes.
        created = requests.post(server.url + "/api/tickets", json={"title": "Laptop", "amount": "999"},
                                headers={**alice, "X-Request-ID": "create-laptop-1", "Connection": "close"},
                                timeout=10)
        assert created.status_code == 201, created.text
        assert created.headers["X-Request-ID"] == "create-laptop-1"
        ticket = created.json()["id"]
        for _ in range(10):  # every process accepts the tokens the other issued
            r = requests.get(f"{server.url}/api/tickets/{ticket}", headers={**alice, "Connection": "close"},
                             timeout=10)
            assert r.status_code == 200, r.text
        assert requests.post(f"{server.url}/api/tickets/{ticket}/submit", headers=alice, timeout=10).ok
        assert requests.post(f"{server.url}/api/tickets/{ticket}/approve", headers=bob, timeout=10).ok
        time.sleep(1.0)
        status = requests.get(f"{server.url}/api/tickets/{ticket}", headers=alice, timeout=10).json()["status"]
        assert status != "completed", "the API processes ran the provisioning step themselves"

        worker = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "worker"], cwd=REPO_ROOT,
                                  env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: requests.get(f"{server.url}/api/tickets/{ticket}", headers=alice,
                                        timeout=10).json()["status"] == "completed",
                   timeout=30, interval=0.2, message="the separate worker did not complete the ticket")

        # One /metrics for every process: the requests of both are counted.
        text = scrape(server.url)
        gets = sample(text, "pflow_http_request_duration_seconds_count", route="/api/tickets/<id:ticket_id>",
                      method="GET", status="200")
        assert gets >= 11
        assert sample(text, "pflow_http_request_duration_seconds_count", method="POST") >= 4
        access = [line for line in server.json_lines() if line.get("logger") == "pflow.access"]
        create_line = [line for line in access if line.get("request_id") == "create-laptop-1"]
        assert len(create_line) == 1, access
        assert create_line[0]["status"] == 201 and create_line[0]["user"] == "alice"
        assert create_line[0]["route"] == "/api/tickets" and create_line[0]["method"] == "POST"
        assert all(line["request_id"] for line in access)
        assert len({line["request_id"] for line in access}) == len(access)  # new ids for requests without one
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        assert server.stop() == 0, server.log()
        reset_postgres()


def test_sighup_replaces_every_worker_and_sigterm_stops_cleanly(tmp_path):
    """The embedded default on SQLite: the generated secret key is the same in every process and survives the
    reload, so a token issued before SIGHUP still works after it."""
    env = {"PFLOW_DATA_DIR": str(tmp_path / "var"), "PFLOW_UI_DIR": str(tmp_path / "no-ui"),
           "PFLOW_WEB_WORKERS": "2", "PFLOW_WEB_THREADS": "2", "PFLOW_WEB_GRACEFUL_TIMEOUT_S": "10",
           "PFLOW_METRICS": "0"}
    for name in ("DATABASE_URL", "WORKFLOW_ENGINE", "RABBITMQ_URL", "PFLOW_SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR"):
        env[name] = ""
    server = Gunicorn(env, tmp_path)
    try:
        server.wait_ready(workers=2)
        before = server.worker_pids()
        alice = login(server.url, "alice")
        for _ in range(6):
            assert requests.get(server.url + "/api/tickets", headers={**alice, "Connection": "close"},
                                timeout=10).status_code == 200
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: len(server.worker_pids()) == 2 and not (server.worker_pids() & before), timeout=30,
                   interval=0.2, message=f"SIGHUP did not replace the workers:\n{server.log()}")
        for _ in range(6):
            assert requests.get(server.url + "/api/tickets", headers={**alice, "Connection": "close"},
                                timeout=10).status_code == 200
        assert sorted(p.name for p in (tmp_path / "var").iterdir() if "secret" in p.name) == ["secret_key"]
    finally:
        code = server.stop()
    assert code == 0, server.log()
    log = server.log()
    assert "PFlow API on 127.0.0.1:" in log and "2 workers x 2 threads (engine: embedded)" in log
    assert "Traceback" not in log, log


def test_gunicorn_names_a_bad_setting_and_does_not_start(tmp_path):
    env = {"PFLOW_DATA_DIR": str(tmp_path / "var"), "PFLOW_WEB_THREADS": "many"}
    done = subprocess.run([*GUNICORN, "--check-config"], cwd=REPO_ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PFLOW_WEB_THREADS='many' is not a whole number" in done.stdout + done.stderr


def test_metrics_get_a_private_multiprocess_folder_when_none_is_set(tmp_path):
    code = ("import os; import pflow.entrypoints.http.gunicorn_conf as c; "
            "print(os.environ['PROMETHEUS_MULTIPROC_DIR']); print(c.workers, c.threads, c.worker_class)")
    env = {**os.environ, "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_WEB_WORKERS": "3", "PFLOW_WEB_THREADS": "5"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    folder, sizing = out.stdout.splitlines()
    assert folder.startswith(os.path.join(tempfile.gettempdir(), "pflow-metrics-"))
    assert sizing == "3 5 gthread"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.splitlines()[0] == str(tmp_path / "mine")


def test_the_gunicorn_config_loads_nothing_of_prometheus_client_before_it_chose_multiprocess_mode(tmp_path):
    code = ("import sys; import pflow.entrypoints.http.gunicorn_conf; import prometheus_client.values as v; "
            "print(v.ValueClass.__name__)")
    env = {**os.environ, "PFLOW_DATA_DIR": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["MmapedValue"]


def test_an_empty_multiprocess_setting_means_none(tmp_path):
    code = ("import pflow.adapters.metrics as m; m.observe_request('/x', 'GET', 200, 0.1); "
            "import prometheus_client.values as v; print(v.ValueClass.__name__)")
    env = {**os.environ, "PFLOW_DATA_DIR": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["MutexValue"]
    assert not list(tmp_path.glob("*.db")), "prometheus_client wrote its files into the working folder"
