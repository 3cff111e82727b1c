"""A frozen workflow engine holds at most PFLOW_ENGINE_MAX_CALLS threads: further engine calls answer
503 at once, and requests that need only the database are served while the engine hangs.

The engine here is the in-memory one made to hang like a SIGSTOPped engine (bounded, as the Camunda
adapter bounds its calls); tests/camunda/test_frozen_engine.py does the same through a TCP proxy in
front of a real Camunda."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from dependency_injector import providers

from pflow.adapters.guarded import BoundedProcessEngine
from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.domain.errors import EngineUnavailable
from pflow.entrypoints.http import create_app
from pflow.config import Settings
from tests.support import BPMN, build_stack

FROZEN_FOR_S = 4.0  # the hanging engine's own timeout (what PFLOW_CAMUNDA_TIMEOUT_S is for Camunda)

PROVISIONING_TOPIC = Settings().provisioning_topic


class HangingEngine(InMemoryWorkflowEngine):
    """While ``frozen`` is set every call waits, then fails as a timed-out engine call does."""

    def __init__(self, timeout_s: float = FROZEN_FOR_S):
        super().__init__()
        self.frozen = threading.Event()
        self.timeout_s = timeout_s
        self.entered = 0
        self._entered_lock = threading.Lock()

    def maybe_hang(self):
        with self._entered_lock:
            self.entered += 1
        if self.frozen.is_set():
            time.sleep(self.timeout_s)
            raise EngineUnavailable(self.name, f"no answer within {self.timeout_s:g}s")


def _hang_every_call(engine: HangingEngine) -> None:
    for name in ("start", "open_tasks", "complete_task", "instance", "cancel", "automated_steps", "fetch_and_lock"):
        original = getattr(engine, name)

        def hanging(*args, _original=original, **kwargs):
            engine.maybe_hang()
            return _original(*args, **kwargs)

        setattr(engine, name, hanging)


@pytest.fixture
def hanging():
    engine = HangingEngine()
    _hang_every_call(engine)
    engine.deploy(BPMN)
    yield engine
    engine.close()


def _in_threads(n, call, timeout=15.0):
    results: list = [None] * n

    def run(i):
        started = time.monotonic()
        try:
            results[i] = ("ok", call(i), time.monotonic() - started)
        except Exception as exc:  # the outcome is what the test looks at
            results[i] = ("error", exc, time.monotonic() - started)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def _join(threads, timeout):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} calls still waiting after {timeout}s"


def test_beyond_the_limit_a_call_fails_fast_saying_the_engine_is_not_answering(hanging):
    bounded = BoundedProcessEngine(hanging, max_calls=2, wait_s=0.1)
    hanging.timeout_s = 1.0
    hanging.frozen.set()
    threads, results = _in_threads(5, lambda i: bounded.open_tasks(f"TCK-{i}")[0])
    _join(threads, hanging.timeout_s + 3)

    busy = [r for r in results if r[0] == "error" and r[1].details.get("reason") == "busy"]
    timed_out = [r for r in results if r[0] == "error" and "no answer within" in r[1].message]
    assert len(timed_out) == 2 and len(busy) == 3, results
    assert hanging.entered == 2  # the refused calls never reached the engine
    assert all(r[2] < 1.0 for r in busy), [r[2] for r in busy]
    error = busy[0][1]
    assert isinstance(error, EngineUnavailable) and error.dependency == hanging.name
    assert error.public_message == f"The workflow engine ({hanging.name}) is not answering in time; try again in a moment."
    assert "PFLOW_ENGINE_MAX_CALLS" in error.message and "PFLOW_ENGINE_MAX_CALLS" not in error.public_message

    hanging.frozen.clear()
    hanging.start("ticket_approval", "TCK-9", {"requester": "alice"})
    assert bounded.open_tasks("TCK-9")[0] is not None and bounded.busy == 0  # every place was given back


def test_a_burst_on_a_moving_engine_queues_instead_of_failing(hanging):
    """Eight approvals at once on a healthy engine whose calls take a moment each: all get an answer."""
    bounded = BoundedProcessEngine(hanging, max_calls=2, wait_s=0.3)
    slow = hanging.open_tasks

    def a_moment(*args, **kwargs):
        time.sleep(0.2)  # under wait_s: the engine is moving, only busy
        return slow(*args, **kwargs)

    hanging.open_tasks = a_moment
    threads, results = _in_threads(8, lambda i: bounded.open_tasks(f"TCK-{i}"))
    _join(threads, 10)
    assert [r for r in results if r[0] == "error"] == [] and bounded.refused == 0


def test_long_polls_do_not_take_the_places_meant_for_requests(hanging):
    bounded = BoundedProcessEngine(hanging, max_calls=1, wait_s=0.05)
    polls, _ = _in_threads(3, lambda i: bounded.fetch_and_lock(f"w{i}", [PROVISIONING_TOPIC], wait_ms=300))
    hanging.start("ticket_approval", "TCK-1", {"requester": "alice"})
    assert bounded.open_tasks("TCK-1")[0] is not None  # not refused although three polls are waiting
    _join(polls, 5)


def test_the_guard_reads_through_to_the_engine_and_leaves_closing_to_its_owner(hanging):
    bounded = BoundedProcessEngine(hanging, max_calls=1)
    assert bounded.name == hanging.name and bounded.timeout_s == hanging.timeout_s
    bounded.close()
    hanging.start("ticket_approval", "TCK-1", {"requester": "alice"})  # still open
    with pytest.raises(ValueError):
        BoundedProcessEngine(hanging, max_calls=0)


# --- the whole server -------------------------------------------------------------------------

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
    """`pflow serve`'s HTTP server (8 threads) on a memory stack whose engine can hang."""
    from waitress import create_server

    stack = build_stack("memory", tmp_path, engine_max_calls=4, engine_wait_ms=300, http_threads=8)
    engine = HangingEngine()
    _hang_every_call(engine)
    stack.container.workflow_engine.override(providers.Object(engine))
    for provider in (stack.container.service_engine, stack.container.tickets):  # built by the start-up deploy
        provider.reset()
    engine.deploy(BPMN)
    server = create_server(create_app(stack.container), host="127.0.0.1", port=0, threads=8, ident="PFlow")
    thread = threading.Thread(target=serve_quietly, args=(server,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    session = requests.Session()
    tokens = {u: session.post(base + "/api/auth/login", json={"username": u, "password": u}, timeout=5).json()["token"]
              for u in ("alice", "bob")}
    yield base, tokens, engine, stack
    engine.frozen.clear()
    stop_serving(server, thread)
    stack.container.workflow_engine.reset_override()
    stack.close()


def test_a_frozen_engine_leaves_the_server_answering_database_only_requests(served):
    base, tokens, engine, _ = served
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    drafts = [requests.post(base + "/api/tickets", json={"title": f"Laptop {i}"}, headers=alice, timeout=5).json()["id"]
              for i in range(12)]
    engine.frozen.set()

    def submit(i):
        return requests.post(f"{base}/api/tickets/{drafts[i]}/submit", headers=alice, timeout=30)

    threads, results = _in_threads(12, submit)
    time.sleep(0.2)  # let the submits take the server's threads first, as in the report
    started = time.monotonic()
    listing = requests.get(base + "/api/tickets?page_size=1", headers=alice, timeout=30)
    list_took = time.monotonic() - started
    _join(threads, FROZEN_FOR_S + 10)

    print(f"one-row list while the engine hangs: {list_took:.2f}s")
    assert listing.status_code == 200 and list_took < 2.0, f"a one-row list took {list_took:.1f}s"
    statuses = [r[1].status_code for r in results]
    assert statuses == [503] * 12, statuses
    bodies = [r[1].json()["error"] for r in results]
    assert all(b["code"] == "service_unavailable" and b["details"]["dependency"] == engine.name for b in bodies)
    assert sum(b["details"].get("reason") == "busy" for b in bodies) >= 12 - 4
    assert max(r[2] for r in results) < FROZEN_FOR_S + 1.5  # nobody waited longer than the engine's bound
    assert engine.entered <= 4

    engine.frozen.clear()
    r = requests.post(f"{base}/api/tickets/{drafts[0]}/submit", headers=alice, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
