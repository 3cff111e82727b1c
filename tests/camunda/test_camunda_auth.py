"""The test engine runs with REST authentication on, as production must, and PFlow authenticates:
without credentials the engine answers 401; with wrong ones PFlow says so at once (no retry loop,
no stack trace) and names what to set; with the right ones the rest of the Camunda suite passes.

Wrong passwords go to a user of this module's own: Camunda locks a user out for a few seconds after each
refused password (for good after ten), so trying them on the suite's user ``pflow`` would fail every
test running meanwhile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import requests

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.config import REPO_ROOT
from pflow.domain.errors import EngineAccessDenied, EngineUnavailable
from tests.camunda import stack as camunda
from tests.camunda.test_serve_on_camunda import WorkerProcess, camunda_env
from tests.support import free_port, wait_until

WRONG = "not-the-password"


@pytest.fixture(scope="module")
def other_user():
    """A user of the engine that only this module's wrong passwords lock out."""
    url = camunda.require_camunda()
    user = f"authtest{uuid.uuid4().hex[:8]}"  # Camunda takes letters and digits only
    r = requests.post(f"{url}/user/create", auth=camunda.AUTH, timeout=10,
                      json={"profile": {"id": user, "firstName": "Auth", "lastName": "Test",
                                        "email": f"{user}@localhost"},
                            "credentials": {"password": uuid.uuid4().hex}})
    assert r.status_code == 204, r.text
    yield user
    requests.delete(f"{url}/user/{user}", auth=camunda.AUTH, timeout=10)
    # none of it touched the suite's own user
    assert requests.get(f"{url}/version", auth=camunda.AUTH, timeout=10).status_code == 200


@pytest.mark.camunda
def test_the_engine_refuses_a_request_without_credentials(other_user):
    url = camunda.require_camunda()
    for method, path in [("GET", "/version"), ("GET", "/process-definition"), ("GET", "/task"),
                         ("POST", "/external-task/fetchAndLock")]:
        r = requests.request(method, url + path, json={} if method == "POST" else None, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers.get("WWW-Authenticate", "").startswith("Basic")
    r = requests.get(url + "/version", auth=(other_user, WRONG), timeout=10)
    assert r.status_code == 401
    r = requests.get(url + "/version", auth=camunda.AUTH, timeout=10)
    assert r.status_code == 200 and r.json()["version"].startswith(camunda.VERSION_PREFIX)


@pytest.mark.camunda
def test_the_adapter_with_a_wrong_password_fails_at_once_naming_what_to_set(other_user):
    url = camunda.require_camunda()
    engine = CamundaWorkflowEngine(url, camunda.SESSION_KEY, timeout_s=5, auth=(other_user, WRONG))
    try:
        for call in (engine.check, lambda: engine.start(camunda.SESSION_KEY, "TCK-auth", {}),
                     lambda: engine.fetch_and_lock("auth-test", ["ticket-processing"], lock_duration_ms=1000,
                                                   wait_ms=1000),
                     lambda: engine.deploy(camunda.session_bpmn())):
            started = time.monotonic()
            with pytest.raises(EngineAccessDenied) as err:
                call()
            assert time.monotonic() - started < 1.0  # no retries, no waiting out a "pause"
            assert not isinstance(err.value, EngineUnavailable)
            assert "refused PFlow's credentials" in err.value.message and "CAMUNDA_PASSWORD" in err.value.message
            assert WRONG not in err.value.message
    finally:
        engine.close()
    # nothing was started under that key
    running = requests.get(f"{url}/process-instance", params={"businessKey": "TCK-auth"}, auth=camunda.AUTH,
                           timeout=10).json()
    assert running == []


@pytest.mark.camunda
def test_the_adapter_without_credentials_says_the_engine_requires_them():
    engine = CamundaWorkflowEngine(camunda.require_camunda(), timeout_s=5)
    try:
        with pytest.raises(EngineAccessDenied) as err:
            engine.check()
        assert "requires credentials" in err.value.message and "CAMUNDA_USERNAME" in err.value.message
    finally:
        engine.close()


@pytest.mark.camunda
def test_serve_with_a_wrong_password_does_not_start_and_says_what_to_set(tmp_path, other_user):
    run = subprocess.run([sys.executable, "-m", "pflow.entrypoints.cli", "serve"], cwd=REPO_ROOT, timeout=60,
                         env={**os.environ,
                              **camunda_env(tmp_path, CAMUNDA_USERNAME=other_user, CAMUNDA_PASSWORD=WRONG),
                              "API_HTTP_PORT": f"127.0.0.1:{free_port()}"},
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert f"refused PFlow's credentials (HTTP 401, user '{other_user}')" in run.stderr
    assert "CAMUNDA_USERNAME and CAMUNDA_PASSWORD" in run.stderr
    assert "Traceback" not in run.stderr and WRONG not in run.stderr + run.stdout


@pytest.mark.camunda
def test_a_worker_with_a_wrong_password_says_so_once_and_exits(tmp_path, other_user):
    """No retry loop: every refused password would lock the user out again (tests/camunda/test_camunda_http.py)."""
    worker = WorkerProcess(camunda_env(tmp_path, CAMUNDA_USERNAME=other_user, CAMUNDA_PASSWORD=WRONG),
                           tmp_path / "worker.log")
    try:
        wait_until(lambda: worker.process.poll() is not None, timeout=30, interval=0.1,
                   message="the worker kept running with refused credentials")
        code = worker.process.returncode
    finally:
        worker.kill()
    out = worker.output()
    assert code == 1, out
    assert out.count("refused PFlow's credentials") == 2, out  # said once in the log, once as the exit message
    assert "the worker stops fetching tasks" in out and f"Error: {camunda.ENGINE_NAME} at" in out
    assert "CAMUNDA_USERNAME and CAMUNDA_PASSWORD" in out and "retrying in" not in out
    assert WRONG not in out and "Traceback" not in out


@pytest.mark.parametrize("engine, prefix", [("camunda", "CAMUNDA_DEV"), ("operaton", "OPERATON_DEV")])
def test_the_tests_default_password_is_the_dev_engines(engine, prefix):
    script = (REPO_ROOT / "deploy" / "camunda-dev" / "camunda-dev.sh").read_text()
    config = (REPO_ROOT / "deploy" / f"{engine}-dev" / "src" / "main" / "resources" / "application.yaml").read_text()
    assert re.search(r'^REST_USER=(\S+)$', script, re.M).group(1) == camunda.DEV_USER
    assert f'REST_PASSWORD="$(setting PASSWORD {camunda.DEV_PASSWORD})"' in script
    assert f"id: {camunda.DEV_USER}" in config and f"${{{prefix}_PASSWORD:{camunda.DEV_PASSWORD}}}" in config


@pytest.mark.parametrize("engine, prefix, port", [("camunda", "CAMUNDA_DEV", 8081), ("operaton", "OPERATON_DEV", 8082)])
def test_the_dev_engines_env_prints_what_pflow_needs(engine, prefix, port):
    script = str(REPO_ROOT / "deploy" / f"{engine}-dev" / f"{engine}-dev.sh")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAMUNDA_DEV_", "OPERATON_DEV_"))}
    run = subprocess.run([script, "env"], capture_output=True, text=True, timeout=10, env=clean)
    assert run.returncode == 0, run.stderr
    assert f"CAMUNDA_URL=http://127.0.0.1:{port}/engine-rest " in run.stdout
    run = subprocess.run([script, "env"], capture_output=True, text=True, timeout=10,
                         env={**clean, f"{prefix}_PASSWORD": "p w'd", f"{prefix}_PORT": "9"})
    assert run.returncode == 0, run.stderr
    exported = subprocess.run(["bash", "-c", run.stdout + 'printf "%s|%s|%s" "$CAMUNDA_URL" "$CAMUNDA_USERNAME" '
                                                         '"$CAMUNDA_PASSWORD"'], capture_output=True, text=True)
    assert exported.stdout == "http://127.0.0.1:9/engine-rest|pflow|p w'd"
