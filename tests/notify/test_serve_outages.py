"""As a new user would with `make run` and a local SMTP server: `pflow serve` (the embedded default) mails the
people each step of a purchase request reaches and calls a registered webhook with each event, signed; while
the SMTP server and the webhook receiver are down nothing is lost, and once they are back nothing arrives
twice."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pflow.domain.outbound import signature_valid
from tests.support import ServedPFlow, free_port, wait_until

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Mailbox:
    """A real SMTP server (aiosmtpd) on a fixed port that can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list = []
        self._lock = threading.Lock()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.messages.append((tuple(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> None:
        self._controller = aiosmtpd_controller.Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list:
        with self._lock:
            return [m for rcpt, m in self.messages if address in rcpt]


class Receiver:
    """A webhook receiver (http.server) on a fixed port that can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._handler = Handler

    def start(self) -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _login(url: str, user: str) -> dict[str, str]:
    r = requests.post(f"{url}/api/auth/login", json={"username": user, "password": user}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


@pytest.fixture
def served(tmp_path: Path):
    mailbox, receiver = Mailbox(free_port()), Receiver(free_port())
    port = free_port()
    env = {"WORKFLOW_ENGINE": "embedded", "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_DEMO_USERS": "1",
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port), "SMTP_SECURITY": "none",
           "PFLOW_PUBLIC_URL": f"http://127.0.0.1:{port}", "PFLOW_DELIVERY_RETRY_BASE_S": "1",
           "PFLOW_DELIVERY_RETRY_MAX_S": "2", "PFLOW_RECONCILE_INTERVAL_S": "0"}
    for name in ("DATABASE_URL", "RABBITMQ_URL", "PFLOW_USERS_FILE"):
        env[name] = ""  # the embedded default's own SQLite file and local event store, its demo users
    server = ServedPFlow(env, port)
    try:
        server.wait_ready(60)
        yield server, mailbox, receiver
    finally:
        code = server.stop(30)
        mailbox.stop()
        receiver.stop()
        assert code == 0, server.output()


def test_mails_and_webhook_calls_survive_an_smtp_and_receiver_outage_once_each(served):
    server, mailbox, receiver = served
    url = server.url
    carol = _login(url, "carol")
    r = requests.post(f"{url}/api/webhooks", headers=carol, timeout=10,
                      json={"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["ticket.*", "task.*"],
                            "description": "audit trail"})
    assert r.status_code == 201, r.text
    endpoint, secret = r.json()["id"], r.json()["secret"]

    # Both are down while the request is submitted and the manager decides.
    alice, bob, fiona = (_login(url, u) for u in ("alice", "bob", "fiona"))
    r = requests.post(f"{url}/api/tickets", headers=alice, timeout=10,
                      json={"type": "purchase_request", "title": "Servers", "fields": {"amount": 5000,
                                                                                       "supplier": "ACME"}})
    assert r.status_code == 201, r.text
    ticket = r.json()["id"]
    task = requests.post(f"{url}/api/tickets/{ticket}/submit", headers=alice, timeout=10).json()["steps"][0]["id"]

    def log():
        return requests.get(f"{url}/api/webhooks/{endpoint}/deliveries", headers=carol, timeout=10).json()["items"]

    wait_until(lambda: any(d["attempts"] >= 2 and d["status"] == "pending" for d in log()), timeout=30,
               message="the webhook calls were not retried while the receiver was down")
    r = requests.post(f"{url}/api/tasks/{task}/complete", headers=bob, timeout=10,
                      json={"variables": {"manager_decision": "approve"}, "comment": "ok"})
    assert r.status_code == 200, r.text
    time.sleep(3)  # a few more failed attempts
    assert mailbox.messages == [] and receiver.calls == []

    mailbox.start()
    receiver.start()
    wait_until(lambda: mailbox.to("fiona@example.com"), timeout=30, message="finance got no mail")
    (finance_mail,) = mailbox.to("fiona@example.com")
    assert "Finance Approval" in finance_mail["Subject"]
    finance_task = requests.get(f"{url}/api/tickets/{ticket}", headers=fiona, timeout=10).json()["steps"][0]["id"]
    r = requests.post(f"{url}/api/tasks/{finance_task}/complete", headers=fiona, timeout=10,
                      json={"variables": {"finance_decision": "approve"}})
    assert r.status_code == 200, r.text
    wait_until(lambda: any("Done" in m["Subject"] for m in mailbox.to("alice@example.com")), timeout=60,
               message="the requester was not told the outcome")
    time.sleep(3)  # anything sent twice would have arrived by now

    # Each person got each mail once.
    ids = [m["Message-ID"] for _, m in mailbox.messages]
    assert len(ids) == len(set(ids)), ids
    by_recipient = {address: sorted(m["X-PFlow-Kind"] for m in mailbox.to(address))
                    for address in ("bob@example.com", "dave@example.com", "fiona@example.com", "alice@example.com")}
    assert by_recipient == {"bob@example.com": ["task.created"], "dave@example.com": ["task.created"],
                            "fiona@example.com": ["task.created"],
                            "alice@example.com": ["task.completed", "task.completed", "ticket.completed"]}
    assert "\u5f85\u529e" in mailbox.to("dave@example.com")[0]["Subject"]  # dave reads Chinese

    # The receiver got each event once, signed.
    events = []
    for headers, body in receiver.calls:
        assert signature_valid(secret, headers["X-PFlow-Timestamp"], body, headers["X-PFlow-Signature"],
                               time.time()), headers
        events.append(json.loads(body))
    event_ids = [e["event_id"] for e in events]
    assert len(event_ids) == len(set(event_ids)), event_ids
    types = sorted(e["type"] for e in events)
    assert types == sorted(["ticket.created", "ticket.submitted", "task.created", "task.completed",
                            "task.created", "task.completed", "ticket.completed"]), types
    assert {e["ticket_id"] for e in events} == {ticket} and all(e["version"] == 2 for e in events)
    assert all(d["status"] == "sent" for d in log())
