"""`pflow serve` as a child process on a temporary data dir, and a client that drives tickets through its API."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.common import ROOT, free_port, wait_http


def new_ticket(title: str, description: str | None = None) -> dict:
    """The body of POST /api/tickets for a benchmark ticket: the default type (IT request) with its fields."""
    fields = {"amount": 100, "priority": "normal"}
    if description:
        fields["description"] = description
    return {"title": title, "fields": fields}


class Served:
    """The all-in-one `pflow serve` (embedded engine, SQLite, worker, relay and consumer in one process)."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None, threads: int = 8) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "serve.log"
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("PFLOW_", "DATABASE_URL", "RABBITMQ_", "CAMUNDA_", "WORKFLOW_ENGINE"))}
        environment.update({"PFLOW_DATA_DIR": str(data_dir), "API_HTTP_PORT": f"127.0.0.1:{self.port}",
                            "PFLOW_SECRET_KEY": "bench-secret-of-32-bytes-or-more-for-benchmarks", "PFLOW_HTTP_THREADS": str(threads),
                            "PFLOW_UI_DIR": str(data_dir / "no-ui"), **(env or {})})
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "serve"], cwd=ROOT,
                                     env=environment, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"{self.url}/healthz", timeout=120, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"pflow serve did not start: {self.log_tail()}") from None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class ApiDriver:
    """Logs the demo users in and moves tickets through the API from a few client threads."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url
        self.threads = threads
        self._local = threading.local()
        self.tokens = {user: self._login(user) for user in ("alice", "bob")}

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _login(self, user: str) -> str:
        answer = requests.post(f"{self.url}/api/auth/login", json={"username": user, "password": user}, timeout=30)
        answer.raise_for_status()
        return answer.json()["token"]

    def call(self, user: str, method: str, path: str, body: dict | None = None) -> dict:
        answer = self._session().request(method, self.url + path, json=body, timeout=60,
                                         headers={"Authorization": f"Bearer {self.tokens[user]}"})
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def ticket(self, i: int, *, submit: bool = False, decide: str | None = None) -> str:
        """An IT request (the default type) of alice's; submitted, and approved or rejected by bob (a manager)."""
        ticket = self.call("alice", "POST", "/api/tickets", new_ticket(f"Bench ticket {i}", "created by the benchmark"))
        if submit or decide:
            self.call("alice", "POST", f"/api/tickets/{ticket['id']}/submit")
        if decide == "approve":
            self.call("bob", "POST", f"/api/tickets/{ticket['id']}/approve", {"comment": "ok"})
        elif decide == "reject":
            self.call("bob", "POST", f"/api/tickets/{ticket['id']}/reject", {"comment": "not this time"})
        return ticket["id"]

    def awaiting_worker(self) -> int:
        """Tickets whose process waits for an automated step (provisioning) rather than for a person: the
        tickets in progress less those with a step open for bob, who may decide every benchmark ticket."""
        running = self.call("bob", "GET", "/api/tickets?status=in_progress&page=1&page_size=1")["total"]
        decisions = self.call("bob", "GET", "/api/tasks?page=1&page_size=1")["total"]
        return running - decisions

    def many(self, count: int, plan) -> list[str]:
        """``count`` tickets; ``plan(i)`` gives (submit, decide) for ticket i."""
        def one(i: int) -> str:
            submit, decide = plan(i)
            return self.ticket(i, submit=submit, decide=decide)

        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(one, range(count)))
