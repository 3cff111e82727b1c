"""Camunda frozen (it accepts connections but never answers, as under SIGSTOP) while PFlow serves:
engine calls fail within PFLOW_CAMUNDA_TIMEOUT_S, at most PFLOW_ENGINE_MAX_CALLS threads wait on it,
and requests that need only the database are served meanwhile. Camunda is frozen through a proxy
(tests/camunda/stack.py), so other users of the shared engine are not disturbed."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.entrypoints.http import create_app
from tests.camunda import stack as camunda
from tests.support import build_stack

pytestmark = pytest.mark.camunda

TIMEOUT_S = 2
SUBMITS = 12
HTTP_THREADS = 8
MAX_CALLS = 4


def serve_quietly(server):
    try:
        server.run()
    except OSError:  # close() from the test thread pulls the socket from under select()
        pass


def stop_serving(server, thread):
    server.close()
    for channel in list(server._map.values()):  # waitress loops while any channel is open
        channel.close()
    server.task_dispatcher.shutdown()
    thread.join(5)
    assert not thread.is_alive()


@pytest.fixture
def served(tmp_path):
    from waitress import create_server

    stack = build_stack("camunda", tmp_path, camunda_timeout_s=TIMEOUT_S, engine_max_calls=MAX_CALLS,
                        engine_wait_ms=300, http_threads=HTTP_THREADS)
    server = create_server(create_app(stack.container), host="127.0.0.1", port=0, threads=HTTP_THREADS,
                           ident="PFlow")
    thread = threading.Thread(target=serve_quietly, args=(server,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    token = requests.post(base + "/api/auth/login", json={"username": "alice", "password": "alice"},
                          timeout=5).json()["token"]
    yield base, {"Authorization": f"Bearer {token}"}, stack
    stack.engine.thaw()
    stop_serving(server, thread)
    stack.close()


@pytest.fixture
def direct():
    """The same engine, not through the proxy: what really is in Camunda."""
    engine = CamundaWorkflowEngine(camunda.CAMUNDA_URL, camunda.SESSION_KEY, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    yield engine
    engine.close()


def test_a_frozen_camunda_fails_submits_within_the_bound_and_lists_are_served_meanwhile(served, direct):
    base, alice, stack = served
    drafts = [requests.post(base + "/api/tickets", json={"title": f"Laptop {i}"}, headers=alice, timeout=5).json()["id"]
              for i in range(SUBMITS)]
    stack.engine.freeze()

    results: list = [None] * SUBMITS

    def submit(i):
        started = time.monotonic()
        try:
            r = requests.post(f"{base}/api/tickets/{drafts[i]}/submit", headers=alice, timeout=30)
            results[i] = (r.status_code, r.json(), time.monotonic() - started)
        except requests.RequestException as exc:
            results[i] = (None, str(exc), time.monotonic() - started)

    threads = [threading.Thread(target=submit, args=(i,), daemon=True) for i in range(SUBMITS)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # the submits take the server's threads first, as in the report
    started = time.monotonic()
    listing = requests.get(base + "/api/tickets?page_size=1", headers=alice, timeout=30)
    list_took = time.monotonic() - started
    deadline = time.monotonic() + TIMEOUT_S + 15
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "submits still waiting long after the engine's bound"

    assert listing.status_code == 200 and list_took < 2.0, f"a one-row list took {list_took:.1f}s"
    assert [r[0] for r in results] == [503] * SUBMITS, results
    took = sorted(r[2] for r in results)
    assert took[-1] < TIMEOUT_S + 1.5, f"a submit took {took[-1]:.1f}s for a stated bound of {TIMEOUT_S}s"
    errors = [r[1]["error"] for r in results]
    assert all(e["details"]["dependency"] == camunda.ENGINE_NAME for e in errors)
    timed_out = [e for e in errors if e["details"].get("reason") != "busy"]
    assert 1 <= len(timed_out) <= MAX_CALLS
    assert all(e["message"] == f"{camunda.ENGINE_NAME} is not reachable: no answer within {TIMEOUT_S}s. Try again in a moment."
               for e in timed_out), timed_out
    port = str(stack.engine.proxy.port)
    assert not any(port in str(e) or "camunda-up" in str(e) for e in errors)

    stack.engine.thaw()
    assert all(direct.instance(key) is None for key in drafts)  # nothing started behind PFlow's back
    assert all(requests.get(f"{base}/api/tickets/{key}", headers=alice, timeout=5).json()["status"] == "draft"
               for key in drafts)
    r = requests.post(f"{base}/api/tickets/{drafts[0]}/submit", headers=alice, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "in_progress" and r.json()["current_steps"] == ["Manager Approval"]
