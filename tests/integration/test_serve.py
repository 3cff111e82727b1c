"""`pflow serve` as a real process: a new user's first minutes, through HTTP only."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support import ServedPFlow, free_port, wait_until


@pytest.fixture
def served(tmp_path):
    env = {"WORKFLOW_ENGINE": "memory", "DATABASE_URL": "memory://", "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_UI_DIR": str(tmp_path / "no-ui")}
    server = ServedPFlow(env, free_port())
    server.wait_ready()
    yield server
    server.stop()


def login(served, user):
    r = requests.post(served.url + "/api/auth/login", json={"username": user, "password": user}, timeout=5)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def test_demo_users_create_submit_approve_and_the_worker_completes(served):
    alice, bob = login(served, "alice"), login(served, "bob")
    t = requests.post(served.url + "/api/tickets", json={"title": "Laptop", "amount": "999"}, headers=alice,
                      timeout=5).json()
    assert t["type"] == "it_request" and t["fields"]["amount"] == 999
    types = requests.get(served.url + "/api/ticket-types", headers=alice, timeout=5).json()
    assert {"it_request", "purchase_request", "access_request"} <= {ty["key"] for ty in types}
    assert requests.post(f"{served.url}/api/tickets/{t['id']}/submit", headers=alice, timeout=5).status_code == 200
    inbox = requests.get(served.url + "/api/tasks", headers=bob, timeout=5).json()
    assert [(i["ticket"]["id"], i["name"]) for i in inbox["items"]] == [(t["id"], "Manager Approval")]
    approved_at = time.monotonic()
    r = requests.post(f"{served.url}/api/tickets/{t['id']}/approve", headers=bob, timeout=5)
    assert r.status_code == 200, r.text

    def completed():
        return requests.get(f"{served.url}/api/tickets/{t['id']}", headers=alice, timeout=5).json()["status"] == "completed"

    wait_until(completed, timeout=10, message="the ticket did not complete")
    print(f"approve → completed seen after {time.monotonic() - approved_at:.3f}s")
    assert requests.get(served.url + "/readyz", timeout=5).json()["status"] == "ready"


def test_sigterm_stops_it_cleanly(served):
    assert served.stop() == 0
    out = served.output()
    assert "PFlow is serving on" in out and "Using local demo users on localhost only" in out and "stopped" in out
