"""The fault suite's own pieces, checked on their own in a second: the freezing proxy, the engine
freezer's SIGSTOP, and the verdict on recorded answers (a harness that passes everything proves nothing)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.faults.conftest import EngineFreezer
from tests.faults.harness import Call, Recorder, check_answers, template
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.faults


@pytest.fixture
def echo_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(lambda: c.recv(1024), b"")],
                             daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_frozen_proxy_holds_every_byte_until_it_thaws(echo_server):
    proxy = TcpProxy("127.0.0.1", echo_server)
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.sendall(b"before")
            assert client.recv(64) == b"before"
            proxy.freeze()
            client.sendall(b"held")
            client.settimeout(0.5)
            with pytest.raises(socket.timeout):
                client.recv(64)  # a hung engine: connected, silent
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as late:
                late.sendall(b"late")  # new connections are accepted, and held too
                late.settimeout(0.3)
                with pytest.raises(socket.timeout):
                    late.recv(64)
                proxy.thaw()
                late.settimeout(5)
                assert late.recv(64) == b"late"
            client.settimeout(5)
            assert client.recv(64) == b"held"
    finally:
        proxy.close()


def test_the_engine_freezer_stops_and_continues_a_process_it_is_given(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setenv("PFLOW_FAULTS_ENGINE_PID", str(child.pid))
        freezer = EngineFreezer(proxy=None)
        assert freezer.method == "SIGSTOP"

        def state():
            with open(f"/proc/{child.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]

        with freezer.frozen():
            deadline = time.monotonic() + 5
            while state() != "T" and time.monotonic() < deadline:
                time.sleep(0.01)
            assert state() == "T"
        deadline = time.monotonic() + 5
        while state() == "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state() != "T"
    finally:
        child.kill()
        child.wait(5)
    monkeypatch.delenv("PFLOW_FAULTS_ENGINE_PID")
    assert EngineFreezer(proxy=None).method == "proxy"


def _call(t0: float, status: int | None, body: dict | None = None, duration: float = 0.1) -> Call:
    return Call(t0, t0 + duration, "alice", "POST", "/api/tickets/{id}/submit", status,
                error="" if status else "ConnectionError", body=json.dumps(body) if body else "")


UNAVAILABLE = {"error": {"code": "service_unavailable", "message": "The workflow engine is unavailable.",
                         "details": {"dependency": "workflow engine"}}}


def test_the_verdict_allows_503s_only_inside_outage_windows_and_refuses_every_other_5xx():
    recorder = Recorder()
    with recorder.outage("engine frozen", grace_s=0.0) as window:
        pass
    window.start, window.end = 100.0, 110.0
    recorder.windows.append(type(window)("serve killed", 200.0, 210.0, api_down=True))
    recorder.calls = [
        _call(105, 503, UNAVAILABLE),  # fine: inside the window
        _call(50, 200, {"id": "x"}),  # fine
        _call(150, 503, UNAVAILABLE),  # outside any window
        _call(105, 500, {"error": {"code": "internal_error", "message": "x", "details": {}}}),
        _call(105, None),  # no answer while the API was up
        _call(205, None),  # no answer while the API process was gone: fine
        _call(106, 503, {"error": {"code": "service_unavailable", "details": {},
                                   "message": "Camunda is not reachable at http://10.0.0.5:8080/engine-rest"}}),
        _call(60, 200, {"id": "y"}, duration=31.0),  # waited on a pool timeout
    ]
    problems = check_answers(recorder, stall_bound_s=10.0)
    assert len(problems) == 5, problems
    assert problems[0].startswith("503 outside any outage window")
    assert problems[1].startswith("500 in engine frozen")
    assert problems[2].startswith("no answer in engine frozen")
    assert problems[3].startswith("slower than 10s")
    assert "internal addresses" in problems[4]


def test_routes_are_recorded_without_the_ticket_id():
    assert template("/api/tickets/8f1c/approve?x=1") == "/api/tickets/{id}/approve"
    assert template("/api/tickets") == "/api/tickets"
    assert _call(0, 200).needs_engine and not Call(0, 1, "a", "GET", "/api/tickets/{id}", 200).needs_engine


def test_task_routes_are_recorded_without_the_task_id_and_need_the_engine():
    assert template("/api/tasks/5e2a/complete") == "/api/tasks/{id}/complete"
    assert template("/api/tasks?group=finance") == "/api/tasks"
    for action in ("withdraw", "retry", "reconcile"):
        assert Call(0, 1, "a", "POST", f"/api/tickets/{{id}}/{action}", 200).needs_engine, action
    assert Call(0, 1, "a", "POST", "/api/tasks/{id}/complete", 200).needs_engine
    assert not Call(0, 1, "a", "GET", "/api/tasks", 200).needs_engine


class _FakeApi:
    """Tickets whose next actions move them as the server would: enough to see the way-out check tell
    a ticket that can be carried on from one that cannot."""

    def __init__(self, tickets: dict[str, dict]) -> None:
        self.tickets = tickets
        self.polls: dict[str, int] = {}

    def ticket(self, ticket_id, user="carol"):
        t = self.tickets[ticket_id]
        if t.get("worker_after") is not None:  # at an automated step: done after a few looks
            self.polls[ticket_id] = self.polls.get(ticket_id, 0) + 1
            if self.polls[ticket_id] > t["worker_after"]:
                t.update(status=t.pop("ends"), current_steps=[], worker_after=None)
        steps = [{**s, "can_complete": user in s["who"]} for s in t.get("open", [])]
        actions = [a for a, who in t.get("actions", {}).items() if user in who]
        return {"id": ticket_id, "requester": "alice", "status": t["status"], "steps": steps,
                "current_steps": t.get("current_steps", [s["name"] for s in steps]), "allowed_actions": actions}

    def call(self, user, method, path, record=True, **kwargs):
        parts = path.strip("/").split("/")
        if method == "GET":
            return Call(0, 0, user, method, path, 404, body="{}")
        ticket_id = next((i for i, t in self.tickets.items()
                          if parts[2] == i or any(s["id"] == parts[2] for s in t.get("open", []))), None)
        t = self.tickets[ticket_id]
        t["taken"] = t.get("taken", []) + [(user, parts[-1], kwargs.get("json"))]
        t.update(open=[], actions={}, status="in_progress", current_steps=["Provision Service"], worker_after=1,
                 ends=t.get("ends", "completed"))
        return Call(0, 0, user, method, path, 200, body="{}")

    def json(self, call):
        return json.loads(call.body) if call.body else None


def test_the_way_out_check_carries_tickets_on_and_names_those_that_cannot_be():
    from tests.faults.harness import check_every_ticket_has_a_way_out

    decision = {"id": "task-1", "name": "Manager Approval",
                "form": [{"id": "approved", "type": "boolean", "decision": True, "required": True, "values": []}]}
    enum = {"id": "task-2", "name": "Finance Approval",
            "form": [{"id": "finance_decision", "type": "enum", "decision": True, "required": True,
                      "values": [{"id": "approve"}, {"id": "reject"}]}]}
    api = _FakeApi({
        "step": {"status": "in_progress", "open": [{**decision, "who": {"bob"}}]},
        "enum": {"status": "in_progress", "open": [{**enum, "who": {"fiona"}}]},
        "failed": {"status": "needs_attention", "actions": {"retry": {"carol"}}, "current_steps": ["Provision"]},
        "draft": {"status": "draft", "actions": {"submit": {"alice"}}},
        "stuck": {"status": "in_progress", "current_steps": []},
        "done": {"status": "completed"},
        "withdrawn": {"status": "withdrawn"},
        "ends_rejected": {"status": "in_progress", "open": [{**decision, "id": "task-3", "who": {"dave"}}],
                          "ends": "rejected"},
    })
    problems = check_every_ticket_has_a_way_out(api, set(api.tickets), settle_s=5)
    assert len(problems) == 2, problems
    assert any(p.startswith("stuck is stuck in in_progress") for p in problems), problems
    assert any(p.startswith("ends_rejected was in_progress") and "not completed" in p for p in problems), problems
    assert api.tickets["step"]["taken"] == [("bob", "complete", {"variables": {"approved": True}, "comment": "way out"})]
    assert api.tickets["enum"]["taken"][0][2]["variables"] == {"finance_decision": "approve"}
    assert api.tickets["failed"]["taken"] == [("carol", "retry", {"comment": "way out"})]
    assert api.tickets["draft"]["taken"][0][:2] == ("alice", "submit")
    assert all(api.tickets[t]["status"] == "completed" for t in ("step", "enum", "failed", "draft"))
    assert "taken" not in api.tickets["done"] and "taken" not in api.tickets["withdrawn"]
