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
