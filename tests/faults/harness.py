"""The fault suite's harness: real PFlow processes, bounded HTTP load that records every response
with its time, outage windows, and the checks every scenario ends with.

What a scenario asserts (see ``Scenario.verify``):

* every ticket ends ``completed`` (or ``rejected``/``withdrawn``), or offers its next action to someone
  (a ticket-level action in ``allowed_actions``, or a step someone ``can_complete``), and taking the
  actions offered carries it on to ``completed``: a way out that really works;
* every event the API produced (the outbox) was sent, handled once by the notification consumer
  (no notification twice for one event) and, on RabbitMQ, reached a test queue bound to the
  exchange: none lost;
* no 5xx other than 503, and a 503 or a refused connection only inside an outage window;
* no request waited on a pool or lock timeout: none slower than ``stall_bound_s``, and no
  "QueuePool limit" or "database is locked" in the servers' logs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import requests
from werkzeug.security import generate_password_hash

from pflow.config import REPO_ROOT
from tests.support import wait_until

# (username, roles, groups): the managers group decides the default type's step, finance and security
# the shipped purchase and access requests' later ones.
USERS = [("alice", ["requester"], []), ("erin", ["requester"], []), ("bob", ["manager"], ["managers"]),
         ("dave", ["manager"], ["managers"]), ("fiona", [], ["finance"]), ("sam", [], ["security"]),
         ("carol", ["admin"], [])]
REQUESTERS = ("alice", "erin")
MANAGERS = ("bob", "dave")
GROUP_MEMBERS = ("bob", "dave", "fiona", "sam")  # who may be offered a step
ADMIN = "carol"
FINAL = ("completed", "rejected", "withdrawn")
# Lines that mean a request waited on a connection pool or a lock until it gave up.
STALL_LOG_MARKERS = ("QueuePool limit", "database is locked")
# How the worker reports a failed attempt of a step (one of its retries spent).
FAILED_ATTEMPT_MARKERS = ("retries left",)
CLIENT_TIMEOUT_S = 40.0  # longer than the 30 s pool timeout, so such a stall is measured, not cut short


def write_users_file(path: Path) -> Path:
    # Cheap hashes: these users exist only in tests.
    path.write_text(json.dumps([{"username": u, "display_name": u.title(), "roles": roles, "groups": groups,
                                 "password_hash": generate_password_hash(u, "pbkdf2:sha256:1000")}
                                for u, roles, groups in USERS]))
    return path


def session_workflows(folder: Path, process_key: str, bpmn: Path) -> Path:
    """A workflows folder (PFLOW_WORKFLOWS_DIR) with only the default ticket type, on ``bpmn`` (the seed
    process deployed under ``process_key``): on a shared Camunda nothing is deployed under a key another
    run uses, and no other run's worker sees these tasks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ticket-process.bpmn").write_text(bpmn.read_text(encoding="utf-8"), encoding="utf-8")
    type_file = (REPO_ROOT / "deploy" / "workflows" / "it-request.type.yaml").read_text(encoding="utf-8")
    assert "process: ticket_approval" in type_file
    (folder / "it-request.type.yaml").write_text(type_file.replace("process: ticket_approval",
                                                                   f"process: {process_key}"), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------ processes

class PFlowProcess:
    """``pflow <command>`` as a child process (through tests.faults.pflow_process), output in a file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "tests.faults.pflow_process", *command],
                                        cwd=REPO_ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                        stdout=log.open("a"), stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        def seen():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            return text in self.output()

        wait_until(seen, timeout=timeout, interval=0.1, message=f"{self.name} did not say {text!r}:\n"
                                                                  f"{self.output()[-4000:]}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            try:
                return requests.get(url + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(up, timeout=timeout, interval=0.1, message=f"{self.name} did not answer:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM (PFlow's processes ignore SIGINT), then SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode


# ------------------------------------------------------------------------------ what happened

# The routes that call the workflow engine (a 503 there is allowed while the engine is down).
ENGINE_ROUTES = ("submit", "approve", "reject", "withdraw", "retry", "reconcile", "complete", "process")


@dataclass
class Call:
    t0: float
    t1: float
    user: str
    method: str
    route: str  # path with the ticket id replaced by {id}
    status: int | None  # None: no answer (refused, reset, timed out)
    error: str = ""
    body: str = ""

    @property
    def duration(self) -> float:
        return self.t1 - self.t0

    @property
    def needs_engine(self) -> bool:
        return self.route.rsplit("/", 1)[-1] in ENGINE_ROUTES

    def describe(self) -> str:
        what = self.status if self.status is not None else f"no answer ({self.error})"
        return f"{self.method} {self.route} as {self.user}: {what} after {self.duration:.2f}s {self.body[:300]}"


@dataclass
class Window:
    name: str
    start: float
    end: float = float("inf")
    api_down: bool = False  # the API process itself is gone: refused connections are expected

    def overlaps(self, call: Call) -> bool:
        return call.t0 <= self.end and call.t1 >= self.start


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.windows: list[Window] = []
        self.notes: list[str] = []

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(f"{time.monotonic():.2f} {text}")

    @contextmanager
    def outage(self, name: str, *, grace_s: float = 5.0, api_down: bool = False) -> Iterator[Window]:
        """Everything inside the block, and ``grace_s`` after it (reconnects, pool refills), is the
        outage window: there a 503 (and with ``api_down`` a refused connection) is an allowed answer."""
        window = Window(name, time.monotonic(), api_down=api_down)
        self.windows.append(window)
        try:
            yield window
        finally:
            window.end = time.monotonic() + grace_s

    def in_window(self, call: Call) -> Window | None:
        return next((w for w in self.windows if w.overlaps(call)), None)

    def summary(self) -> str:
        by_status = Counter(c.status if c.status is not None else "no answer" for c in self.calls)
        durations = [c.duration for c in self.calls if c.status is not None]
        p50 = statistics.median(durations) if durations else 0.0
        p99 = sorted(durations)[int(len(durations) * 0.99) - 1] if len(durations) >= 100 else max(durations, default=0)
        windows = ", ".join(f"{w.name} {w.end - w.start:.1f}s" for w in self.windows) or "none"
        return (f"{len(self.calls)} calls {dict(sorted(by_status.items(), key=str))}; latency p50 {p50 * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms, max {max(durations, default=0):.2f} s; outage windows: {windows}")


def template(path: str) -> str:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) >= 3 and parts[:2] in (["api", "tickets"], ["api", "tasks"]):
        parts[2] = "{id}"
    return "/" + "/".join(parts)


class Api:
    """HTTP calls as the test users, each one recorded with its start and end time."""

    def __init__(self, url: str, recorder: Recorder) -> None:
        self.url = url
        self.recorder = recorder
        self.tokens: dict[str, str] = {}
        self._local = threading.local()

    def login_all(self) -> None:
        for user, _, _ in USERS:
            r = requests.post(self.url + "/api/auth/login", json={"username": user, "password": user}, timeout=10)
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()["token"]

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def call(self, user: str, method: str, path: str, *, record: bool = True, **kwargs) -> Call:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        t0 = time.monotonic()
        try:
            r = self._session().request(method, self.url + path, headers=headers, timeout=CLIENT_TIMEOUT_S, **kwargs)
            call = Call(t0, time.monotonic(), user, method, template(path), r.status_code, body=r.text)
        except requests.RequestException as exc:
            call = Call(t0, time.monotonic(), user, method, template(path), None, error=type(exc).__name__)
        if record:
            self.recorder.add(call)
        self._local.last = call
        return call

    def last_call(self) -> Call | None:
        """This thread's latest call."""
        return getattr(self._local, "last", None)

    def json(self, call: Call):
        return json.loads(call.body) if call.body else None

    def ticket(self, ticket_id: str, user: str = ADMIN) -> dict | None:
        c = self.call(user, "GET", f"/api/tickets/{ticket_id}", record=False)
        return self.json(c) if c.status == 200 else None


# ---------------------------------------------------------------------------------------- load

class Load:
    """``clients`` threads, each carrying tickets through create → submit → list → approve → get,
    until ``stop()`` or ``max_flows`` flows each. A step that does not succeed leaves its ticket where
    it is (the final check finds it a way out) and the client goes on with a new ticket."""

    def __init__(self, api: Api, *, clients: int = 3, max_flows: int = 400, pause_s: float = 0.02) -> None:
        self.api = api
        self.clients = clients
        self.max_flows = max_flows
        self.pause_s = pause_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ticket_ids: set[str] = set()
        self.flows = 0
        self._lock = threading.Lock()

    def _flow(self, i: int, n: int) -> None:
        api = self.api
        requester, manager = REQUESTERS[(i + n) % 2], MANAGERS[(i + n) % 2]
        c = api.call(requester, "POST", "/api/tickets", json={"title": f"Load {i}-{n}", "amount": "120.50"})
        if c.status != 201:
            return
        ticket_id = api.json(c)["id"]
        with self._lock:
            self.ticket_ids.add(ticket_id)
        if api.call(requester, "POST", f"/api/tickets/{ticket_id}/submit").status != 200:
            return
        api.call(requester, "GET", "/api/tickets", params={"page": 1, "page_size": 5})
        if api.call(manager, "POST", f"/api/tickets/{ticket_id}/approve", json={"comment": f"ok {i}-{n}"}).status != 200:
            return
        api.call(requester, "GET", f"/api/tickets/{ticket_id}")
        with self._lock:
            self.flows += 1

    def _client(self, i: int) -> None:
        n = 0
        while not self._stop.is_set() and n < self.max_flows:
            self._flow(i, n)
            n += 1
            # After a 503 or a refused connection wait a little, as a client should, rather than spin.
            last = self.api.last_call()
            self._stop.wait(0.25 if last is not None and last.status in (None, 503) else self.pause_s)

    def start(self) -> "Load":
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i,), name=f"load-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_S * 6)
        assert not any(t.is_alive() for t in self._threads), "a load client did not finish"


def race_approvals(api: Api, rounds: int, racers: int = 8) -> tuple[list[str], list[str]]:
    """``rounds`` times: one submitted ticket, ``racers`` managers' approvals released at once.
    Returns the tickets and the problems seen (each round: exactly one 200, the others 409)."""
    problems: list[str] = []
    tickets: list[str] = []
    for n in range(rounds):
        requester = REQUESTERS[n % 2]
        c = api.call(requester, "POST", "/api/tickets", json={"title": f"Race {n}", "amount": "99"})
        assert c.status == 201, c.describe()
        ticket_id = api.json(c)["id"]
        tickets.append(ticket_id)
        c = api.call(requester, "POST", f"/api/tickets/{ticket_id}/submit")
        assert c.status == 200, c.describe()
        barrier = threading.Barrier(racers)
        results: list[Call] = []
        comments = {f"race {n} approver {k}" for k in range(racers)}

        def approve(k: int) -> None:
            barrier.wait(10)
            results.append(api.call(MANAGERS[k % 2], "POST", f"/api/tickets/{ticket_id}/approve",
                                    json={"comment": f"race {n} approver {k}"}))

        threads = [threading.Thread(target=approve, args=(k,)) for k in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CLIENT_TIMEOUT_S + 10)
        statuses = sorted(r.status or 0 for r in results)
        if statuses != [200] + [409] * (racers - 1):
            problems.append(f"round {n} ({ticket_id}): answers {statuses}; "
                            + "; ".join(r.describe() for r in results if r.status not in (200, 409)))
        history = api.call(ADMIN, "GET", f"/api/tickets/{ticket_id}/history", record=False)
        if history.status == 200:
            approvals = [h for h in api.json(history) if h.get("action") == "step_completed"]
            if len(approvals) != 1 or approvals[0].get("comment") not in comments:
                problems.append(f"round {n} ({ticket_id}): the approval in the history is {approvals}; "
                                "expected one, with the winning approver's own words")
    return tickets, problems


# ------------------------------------------------------------------------------------- checks

def _offers(api: Api, ticket: dict) -> tuple[dict[str, str], dict[str, tuple[str, dict]]]:
    """What the ticket offers now, and to whom: ticket-level actions (``allowed_actions``) of its requester,
    the group members who are not its requester and an admin; and each open step someone ``can_complete``
    (task id -> (user, step))."""
    actions: dict[str, str] = {}
    steps: dict[str, tuple[str, dict]] = {}
    for user in (ticket["requester"], *(m for m in GROUP_MEMBERS if m != ticket["requester"]), ADMIN):
        seen = api.ticket(ticket["id"], user) or {}
        for action in seen.get("allowed_actions", []):
            actions.setdefault(action, user)
        for step in seen.get("steps", []):
            if step.get("can_complete"):
                steps.setdefault(step["id"], (user, step))
    return actions, steps


def _evidence(api: Api, ticket_id: str) -> str:
    history = api.call(ADMIN, "GET", f"/api/tickets/{ticket_id}/history", record=False)
    process = api.call(ADMIN, "GET", f"/api/tickets/{ticket_id}/process", record=False)
    steps = [f"{h.get('action')}:{h.get('to_status')}" for h in (api.json(history) or [])] if history.status == 200 \
        else history.describe()
    state = {k: v for k, v in (api.json(process) or {}).items() if k in ("state", "active_activity_ids", "completed_activity_ids")} \
        if process.status == 200 else process.describe()
    return f"history {steps}; engine {state}"


def on_its_way(ticket: dict) -> bool:
    """In progress at automated steps only: the worker's to do, nobody else's."""
    return ticket["status"] == "in_progress" and not ticket.get("steps") and bool(ticket.get("current_steps"))


def settle_tickets(api: Api, ticket_ids: set[str], timeout: float = 45.0) -> dict[str, dict]:
    """Wait until no ticket is on its way (at an automated step: the worker's to do) or ``timeout``."""
    latest: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    pending = set(ticket_ids)
    while pending and time.monotonic() < deadline:
        for ticket_id in sorted(pending):
            t = api.ticket(ticket_id)
            if t is not None:
                latest[ticket_id] = t
                if not on_its_way(t):
                    pending.discard(ticket_id)
        if pending:
            time.sleep(0.5)
    for ticket_id in ticket_ids - set(latest):
        latest[ticket_id] = api.ticket(ticket_id) or {"id": ticket_id, "status": "unreadable", "requester": ADMIN}
    return latest


def _decide(step: dict) -> dict:
    """The values that approve a step: its decision field set to approve, every other required field's default."""
    values = {}
    for f in step.get("form", []):
        if f.get("decision"):
            values[f["id"]] = True if f["type"] == "boolean" else "approve"
        elif f.get("required"):
            values[f["id"]] = f.get("default") if f.get("default") is not None else (
                f["values"][0]["id"] if f.get("values") else "way out")
    return values


# The production processes of the suite reconcile every 3 s, and heal a lost completion once it is older
# than the 10 s grace: a ticket that nobody can act on must move within this.
RECONCILE_WITHIN_S = 25.0


def _shape(t: dict) -> tuple:
    return (t["status"], [(s["id"], s.get("assignee")) for s in t.get("steps") or []],
            list(t.get("current_steps") or []))


def _moved(api: Api, t: dict) -> dict | None:
    """The ticket once it no longer looks like ``t`` (within the reconciliation time), else None."""
    try:
        return wait_until(lambda: (x := api.ticket(t["id"])) and _shape(x) != _shape(t) and x,
                          timeout=RECONCILE_WITHIN_S, interval=0.5)
    except AssertionError:
        return None


def _next_action(api: Api, t: dict) -> tuple[str, str, str, dict | None] | None:
    """(what, user, path, body) of the action that carries the ticket on, or None when nobody has one."""
    actions, steps = _offers(api, t)
    ticket_id = t["id"]
    if "submit" in actions:
        return "submit", actions["submit"], f"/api/tickets/{ticket_id}/submit", None
    if steps:
        task_id, (user, step) = sorted(steps.items())[0]
        return (f"complete {step.get('name')}", user, f"/api/tasks/{task_id}/complete",
                {"variables": _decide(step), "comment": "way out"})
    if "retry" in actions:
        return "retry", actions["retry"], f"/api/tickets/{ticket_id}/retry", {"comment": "way out"}
    return None


def check_every_ticket_has_a_way_out(api: Api, ticket_ids: set[str], *, settle_s: float = 45.0) -> list[str]:
    """Every ticket ends completed/rejected/withdrawn, or offers next actions that carry it to completed."""
    problems = []
    latest = settle_tickets(api, ticket_ids, settle_s)
    for ticket_id, t in sorted(latest.items()):
        if t["status"] in FINAL:
            continue
        first = t["status"]
        taken: list[str] = []
        for _ in range(8):  # a step, the next step, a retry...: a process of any depth, never for ever
            if t["status"] in FINAL:
                break
            if on_its_way(t):
                try:
                    t = wait_until(lambda: (x := api.ticket(ticket_id)) and not on_its_way(x) and x,
                                   timeout=30, interval=0.3)
                except AssertionError:
                    problems.append(f"{ticket_id} stays at {t['current_steps']} after {taken}; "
                                    f"{_evidence(api, ticket_id)}")
                    break
                continue
            action = _next_action(api, t)
            if action is None and "reconciled" not in taken:
                # A step the engine completed whose ticket commit was lost stays on the ticket for the heal
                # grace (its own command may still record it); then a reconciliation pass records it.
                # Nobody can act on it meanwhile: give reconciliation its time, once, before calling it stuck.
                moved = _moved(api, t)
                if moved is not None:
                    t = moved
                    taken.append("reconciled")
                    continue
            if action is None:
                problems.append(f"{ticket_id} is stuck in {t['status']} (steps {t.get('current_steps')}) with no "
                                f"action for anyone after {taken}; {_evidence(api, ticket_id)}")
                break
            what, user, path, body = action
            c = api.call(user, "POST", path, record=False, json=body)
            if c.status == 409:
                # The offer was older than the engine: someone moved the ticket on meanwhile, or the step's
                # completion is in the engine and its ticket commit was lost (a reconciliation pass records
                # it after the heal grace). It must still reach completed: look again once it has moved.
                taken.append(f"{what} as {user} (409, moved on meanwhile)")
                moved = _moved(api, t)
                if moved is None:
                    problems.append(f"{ticket_id} in {t['status']} offers {what} to {user}, which answers 409, and "
                                    f"the ticket does not move; {_evidence(api, ticket_id)}")
                    break
                t = moved
                continue
            if c.status != 200:
                problems.append(f"{ticket_id} in {t['status']} offers {what} to {user}, but it answered "
                                f"{c.describe()}; {_evidence(api, ticket_id)}")
                break
            taken.append(f"{what} as {user}")
            t = api.ticket(ticket_id) or t
        else:
            problems.append(f"{ticket_id} was {first}; after {taken} it is still {t['status']}; "
                            f"{_evidence(api, ticket_id)}")
            continue
        if t["status"] in FINAL and t["status"] != "completed" and taken:
            problems.append(f"{ticket_id} was {first}; after {taken} (all approvals) it is {t['status']}, not "
                            f"completed; {_evidence(api, ticket_id)}")
    return problems


def check_answers(recorder: Recorder, *, stall_bound_s: float) -> list[str]:
    """No 5xx but 503, a 503 or no answer only inside an outage window, nothing slower than the bound."""
    problems: list[str] = []
    bodies: list[str] = []
    for call in recorder.calls:
        window = recorder.in_window(call)
        if call.status is None:
            if not (window and window.api_down):
                problems.append(f"no answer {'in ' + window.name if window else 'outside any outage'}: {call.describe()}")
        elif call.status >= 500:
            if call.status != 503:
                problems.append(f"{call.status} {'in ' + window.name if window else 'outside any outage'}: "
                                f"{call.describe()}")
            elif window is None:
                problems.append(f"503 outside any outage window: {call.describe()}")
            else:
                bodies += _check_unavailable_body(call)
        if call.duration > stall_bound_s:
            problems.append(f"slower than {stall_bound_s:.0f}s (a pool or lock timeout?): {call.describe()}")
    if bodies:
        problems += bodies[:2] + ([f"... and {len(bodies) - 2} more such 503s"] if len(bodies) > 2 else [])
    return problems


def _check_unavailable_body(call: Call) -> list[str]:
    """A 503 tells the client, in the API's error shape, which dependency is down, and nothing of
    the servers' insides (addresses, commands for the operator: those belong in the log)."""
    try:
        error = json.loads(call.body)["error"]
        assert error["code"] and error["message"]
    except (ValueError, KeyError, TypeError, AssertionError):
        return [f"503 not in the API's error shape: {call.describe()}"]
    if "://" in call.body or "make " in error["message"] or ".sh" in error["message"]:
        return [f"503 shows the client internal addresses or operator hints: {call.describe()}"]
    return []


def check_logs(processes: list[PFlowProcess], markers=STALL_LOG_MARKERS) -> list[str]:
    problems = []
    for process in processes:
        for line in process.output().splitlines():
            if any(m in line for m in markers):
                problems.append(f"{process.name} log: {line.strip()[:400]}")
    return problems[:20]


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Conflict|Unavailable|Timeout|Exit)\b")


def error_excerpts(processes: list[PFlowProcess], limit: int = 6) -> list[str]:
    """Each process's first ERROR lines with the PFlow frames and the exception of the traceback
    that follows, so a failed run in CI says where it broke without the logs at hand."""
    excerpts = []
    for process in processes:
        lines = process.output().splitlines()
        shown = 0
        for i, line in enumerate(lines):
            if " ERROR " not in line or shown >= limit:
                continue
            shown += 1
            frames, last = [], ""
            for follow in lines[i + 1:i + 400]:
                if follow[:4].isdigit():  # the next log record
                    break
                if 'File "' in follow and "/pflow/" in follow:
                    frames.append(follow.strip().split("/pflow/", 1)[1])
                elif _EXCEPTION_LINE.match(follow):
                    last = follow.strip()
            excerpts.append(f"{process.name}: {line.strip()[:300]}"
                            + (f"\n    at {' <- '.join(reversed(frames[-6:]))}\n    {last[:300]}" if frames else ""))
    return excerpts


def _db_rows(database_url: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    from pflow.config import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql))]
    finally:
        engine.dispose()


def ticket_ids_in(database_url: str) -> set[str]:
    return {t for (t,) in _db_rows(database_url, "SELECT id FROM tickets")}


class Tap:
    """A queue of the test's own bound to the ticket exchange on RabbitMQ: every event the relay
    published lands here too, whatever the consumer does."""

    def __init__(self, amqp_url: str, exchange: str = "ticket.events", name: str = "faults.tap") -> None:
        from kombu import Connection, Exchange, Queue, binding

        self.url = amqp_url
        topic = Exchange(exchange, type="topic", durable=True, delivery_mode="persistent")
        # Every kind PFlow publishes: ticket.* (what happens to a ticket) and task.* (its steps).
        self.queue = Queue(name, bindings=[binding(topic, routing_key="ticket.#"), binding(topic, routing_key="task.#")],
                           durable=True, auto_delete=False)
        with Connection(amqp_url, connect_timeout=5) as connection:
            self.queue(connection.channel()).declare()
        self.received: list[str] = []

    def drain(self) -> list[str]:
        from kombu import Connection

        with Connection(self.url, connect_timeout=5) as connection:
            queue = self.queue(connection.channel())
            while (message := queue.get(no_ack=True)) is not None:
                self.received.append(json.loads(message.body)["event_id"])
        return self.received


def check_events(database_url: str, tap: Tap | None = None, timeout: float = 30.0) -> list[str]:
    """Every outbox event sent and handled by the consumer once; on RabbitMQ also seen on the tap."""
    def unsent_or_unhandled():
        unsent = _db_rows(database_url, "SELECT event_id FROM outbox WHERE sent_at IS NULL")
        unhandled = _db_rows(database_url, "SELECT o.event_id FROM outbox o LEFT JOIN processed_events p "
                                           "ON p.event_id = o.event_id AND p.consumer = 'notifications' "
                                           "WHERE p.event_id IS NULL")
        return unsent, unhandled

    try:
        wait_until(lambda: unsent_or_unhandled() == ([], []), timeout=timeout, interval=0.5)
    except AssertionError:
        pass
    problems = []
    unsent, unhandled = unsent_or_unhandled()
    if unsent:
        problems.append(f"{len(unsent)} events never left the outbox, e.g. {unsent[:3]}")
    if unhandled:
        problems.append(f"{len(unhandled)} sent events never reached the notification consumer, e.g. {unhandled[:3]}")
    doubled = _db_rows(database_url, "SELECT event_id, recipient, COUNT(*) FROM notifications "
                                     "GROUP BY event_id, recipient HAVING COUNT(*) > 1")
    if doubled:
        problems.append(f"{len(doubled)} events notified someone more than once, e.g. {doubled[:3]}")
    outbox = {e for (e,) in _db_rows(database_url, "SELECT event_id FROM outbox")}
    events = defaultdict(set)
    for ticket_id, key in _db_rows(database_url, "SELECT ticket_id, routing_key FROM outbox"):
        events[ticket_id].add(key)
    for ticket_id, status in _db_rows(database_url, "SELECT id, status FROM tickets WHERE status = 'completed'"):
        missing = {"ticket.created", "ticket.submitted", "task.created", "task.completed",
                   "ticket.completed"} - events[ticket_id]
        if missing:
            problems.append(f"{ticket_id} is completed but the outbox has no {sorted(missing)}")
    if tap is not None:
        try:
            wait_until(lambda: outbox <= set(tap.drain()), timeout=timeout, interval=0.5)
        except AssertionError:
            pass
        lost = outbox - set(tap.received)
        if lost:
            problems.append(f"{len(lost)} of {len(outbox)} events never reached the test queue on the exchange, "
                            f"e.g. {sorted(lost)[:3]}")
    return problems


@dataclass
class Scenario:
    """One fault scenario's run: its API, recorder, load and processes, and the final verdict."""

    api: Api
    recorder: Recorder
    database_url: str
    processes: list[PFlowProcess] = field(default_factory=list)
    tap: Tap | None = None
    stall_bound_s: float = 10.0
    extra_problems: list[str] = field(default_factory=list)

    def verify(self, ticket_ids: set[str] = frozenset(), *, no_failed_attempts: bool = False) -> None:
        """``no_failed_attempts``: nothing in this scenario should make a worker's step fail (no fault
        touches the worker, its database or its engine), so no retry may be spent."""
        all_ids = set(ticket_ids) | ticket_ids_in(self.database_url)
        problems = list(self.extra_problems)
        problems += check_answers(self.recorder, stall_bound_s=self.stall_bound_s)
        problems += check_every_ticket_has_a_way_out(self.api, all_ids)
        problems += check_events(self.database_url, self.tap)
        problems += check_logs(self.processes)
        if no_failed_attempts:
            problems += [f"a step failed and spent a retry with no fault to blame: {line}"
                         for line in check_logs(self.processes, FAILED_ATTEMPT_MARKERS)]
        print(f"\n{len(all_ids)} tickets; {self.recorder.summary()}")
        for note in self.recorder.notes:
            print("  " + note)
        if problems:
            excerpts = "\n".join(error_excerpts(self.processes))
            raise AssertionError(f"{len(problems)} problems:\n" + "\n".join(f"- {p}" for p in problems[:40])
                                 + (f"\nErrors the processes logged:\n{excerpts}" if excerpts else ""))


def wait_for(predicate: Callable[[], object], timeout: float, message: str):
    return wait_until(predicate, timeout=timeout, interval=0.05, message=message)
