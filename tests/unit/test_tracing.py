"""Traces (docs/tracing.md): one ticket's trace runs from the API request through the outbox, the relay and the
broker into the consumer, and through the process variable into the worker that runs the next automated step.

Tracing is process-wide (one tracer provider per process), so the flow runs in a subprocess with an in-memory
exporter and prints the finished spans; the tests here read them. Without a provider nothing is recorded and no
trace variable reaches the engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pflow.config import REPO_ROOT

FLOW = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from pflow.adapters import tracing as sdk
    from pflow import tracing

    exporter = InMemorySpanExporter()
    if sys.argv[2] == "traced":
        sdk.exporter_for_tests(exporter)
    from tests.support import build_stack
    from pflow.entrypoints.http import create_app

    stack = build_stack(sys.argv[3], Path(sys.argv[1]))
    c = stack.container
    client = create_app(c).test_client(use_cookies=False)
    def login(user):
        r = client.post("/api/auth/login", json={"username": user, "password": user})
        return {"Authorization": "Bearer " + r.get_json()["token"]}
    alice, bob = login("alice"), login("bob")
    ticket = client.post("/api/tickets", json={"title": "Laptop", "amount": "999"}, headers=alice).get_json()["id"]
    assert client.post(f"/api/tickets/{ticket}/submit", headers=alice).status_code == 200
    c.relay().drain()
    c.notification_consumer().drain(idle_timeout=0.3)
    exporter.clear()  # from here on: the approval's trace only
    assert client.post(f"/api/tickets/{ticket}/approve", headers=bob).status_code == 200
    c.relay().drain()
    worker = c.worker()
    tasks = c.workflow_engine().fetch_and_lock(worker.settings.worker_id, ["ticket-processing"], max_tasks=1, lock_duration_ms=60000)
    assert len(tasks) == 1, tasks
    variables = dict(tasks[0].variables)
    assert worker.execute(tasks[0])
    c.relay().drain()
    c.notification_consumer().drain(idle_timeout=0.3)
    status = client.get(f"/api/tickets/{ticket}", headers=alice).get_json()["status"]
    spans = [{"name": s.name, "trace": format(s.context.trace_id, "032x"), "span": format(s.context.span_id, "016x"),
              "parent": format(s.parent.span_id, "016x") if s.parent else None, "kind": s.kind.name,
              "attributes": {k: v for k, v in s.attributes.items()}, "service": s.resource.attributes["service.name"]}
             for s in exporter.get_finished_spans()]
    print(json.dumps({"ticket": ticket, "status": status, "spans": spans,
                      "traceparent_variable": variables.get(tracing.TRACEPARENT_VARIABLE)}))
    stack.close()
''')


def run_flow(tmp_path, mode: str, kind: str = "embedded") -> dict:
    done = subprocess.run([sys.executable, "-c", FLOW, str(tmp_path), mode, kind], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    return run_flow(tmp_path_factory.mktemp("traced"), "traced")


def by_name(result: dict, prefix: str) -> list[dict]:
    return [s for s in result["spans"] if s["name"].startswith(prefix)]


def test_the_approval_request_the_relay_the_worker_and_the_consumer_share_one_trace(traced):
    assert traced["status"] == "completed"
    (approve,) = [s for s in traced["spans"] if s["kind"] == "SERVER" and "approve" in s["name"]]
    (task,) = by_name(traced, "ticket-processing task")
    publishes = by_name(traced, "ticket.")
    assert approve["attributes"]["pflow.ticket_id"] == traced["ticket"]
    assert task["attributes"]["pflow.ticket_id"] == traced["ticket"] and task["attributes"]["pflow.process_instance_id"]
    assert task["trace"] == approve["trace"], "the worker's span is not in the approval's trace"
    assert task["kind"] == "CONSUMER"
    # the approval's own events, and those of the completion the worker committed, go out in that trace
    relayed = [s for s in publishes if s["kind"] == "PRODUCER"]
    consumed = [s for s in publishes if s["kind"] == "CONSUMER"]
    assert relayed and all(s["trace"] == approve["trace"] for s in relayed), relayed
    assert consumed and all(s["trace"] == approve["trace"] for s in consumed), consumed
    assert {s["parent"] for s in consumed} <= {s["span"] for s in relayed}, "a consumer span's parent is no publish"
    assert all(s["attributes"]["pflow.ticket_id"] == traced["ticket"] for s in relayed + consumed)


def test_the_worker_span_is_a_child_of_the_span_that_completed_the_user_task(traced):
    spans = {s["span"]: s for s in traced["spans"]}
    (task,) = by_name(traced, "ticket-processing task")
    parent = spans[task["parent"]]
    assert parent["name"] == "engine complete_task"
    assert traced["traceparent_variable"].split("-")[2] == parent["span"]


def test_database_statements_are_spans_of_the_request(traced):
    (approve,) = [s for s in traced["spans"] if s["kind"] == "SERVER" and "approve" in s["name"]]
    statements = [s for s in traced["spans"] if s["kind"] == "CLIENT" and s["trace"] == approve["trace"]
                  and "db.system" in json.dumps(s["attributes"])]
    assert statements, "no SQLAlchemy span in the approval's trace"


def test_untraced_processes_record_nothing_and_add_no_variable(tmp_path):
    result = run_flow(tmp_path, "untraced")
    assert result["status"] == "completed"
    assert result["spans"] == [] and result["traceparent_variable"] is None
