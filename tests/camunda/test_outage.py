"""Camunda stopped while PFlow runs: the API says so with 503, nothing is half-done, and it all works
again when Camunda is back. Camunda is 'stopped' by cutting the proxy the stack talks through
(connections refused), so other users of the shared engine are not disturbed."""

from __future__ import annotations

import pytest

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.entrypoints.http import create_app
from tests.camunda import stack as camunda
from tests.conftest import ApiClient
from tests.support import build_stack

pytestmark = pytest.mark.camunda


@pytest.fixture
def stack(tmp_path):
    s = build_stack("camunda", tmp_path)
    yield s
    s.close()


@pytest.fixture
def api(stack):
    return ApiClient(create_app(stack.container))


@pytest.fixture
def direct():
    """The same engine, not through the proxy: what really is in Camunda."""
    engine = CamundaWorkflowEngine(camunda.CAMUNDA_URL, camunda.SESSION_KEY, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    yield engine
    engine.close()


def test_submit_while_camunda_is_stopped_is_503_the_ticket_stays_a_draft_and_nothing_is_orphaned(api, stack, direct):
    ticket = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json["id"]
    stack.engine.available = False

    r = api.post(f"/api/tickets/{ticket}/submit", "alice")
    assert r.status_code == 503 and r.headers["Retry-After"]
    error = r.json["error"]
    assert error["code"] == "service_unavailable" and error["details"]["dependency"] == camunda.ENGINE_NAME
    assert error["message"].startswith(f"{camunda.ENGINE_NAME} is not reachable: connection refused")
    assert f"make {camunda.FLAVOUR}-up" not in str(error) and str(stack.engine.proxy.port) not in str(error)
    assert api.get(f"/api/tickets/{ticket}", "alice").json["status"] == "draft"
    assert direct.instance(ticket) is None  # no instance was started behind PFlow's back
    ready = api.get("/readyz")
    assert ready.status_code == 503 and f"{camunda.ENGINE_NAME} is not reachable" in ready.json["checks"]["workflow_engine"]

    stack.engine.available = True
    assert api.post(f"/api/tickets/{ticket}/submit", "alice").status_code == 200
    assert direct.open_tasks(ticket)
    assert api.get("/readyz").status_code == 200


def test_decisions_while_camunda_is_stopped_are_503_and_change_nothing(api, stack, direct):
    ticket = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json["id"]
    assert api.post(f"/api/tickets/{ticket}/submit", "alice").status_code == 200
    stack.engine.available = False

    assert api.post(f"/api/tickets/{ticket}/approve", "bob").status_code == 503
    assert api.get(f"/api/tickets/{ticket}/process", "bob").status_code == 503
    assert api.get(f"/api/tickets/{ticket}", "bob").json["status"] == "in_progress"
    assert direct.open_tasks(ticket)

    stack.engine.available = True
    assert api.post(f"/api/tickets/{ticket}/approve", "bob").status_code == 200
    assert direct.instance(ticket).active_activity_ids == ("ProvisionService",)
