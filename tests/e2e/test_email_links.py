"""Deciding from the e-mail, end to end: a real ``pflow serve`` (embedded engine, temporary data dir) sends its
mails to a real SMTP server in this process (aiosmtpd); the decision links are read from the received mails
and followed in Debian's Chromium (frontend/e2e/email-link.mjs, playwright-core), which confirms them. A
purchase request goes from the manager (bob's link) to finance (fiona's link) to done, and every mail reaches
the right person once. Screenshots and the server's log land in artifacts/e2e/.

Skips (saying what is missing) without Chromium, Node.js or the UI's node modules, and fails instead under
PFLOW_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from pflow.config import REPO_ROOT
from tests.support import require_service

FRONTEND = REPO_ROOT / "frontend"
ARTIFACTS = Path(os.environ.get("PFLOW_E2E_ARTIFACTS") or REPO_ROOT / "artifacts" / "e2e")
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LINK = re.compile(r"(https?://\S+/email-actions/[A-Za-z0-9_.\-]+)")

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exists(path: Path, what: str):
    def probe():
        if not path.exists():
            raise FileNotFoundError(f"{what} ({path}) is missing")
    return probe


class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message), in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def wait_for(self, address: str, kind: str, timeout: float = 60.0) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if m["X-PFlow-Kind"] == kind]
            if found:
                return found[0]
            time.sleep(0.2)
        got = [(rcpts, m["X-PFlow-Kind"], m["Subject"]) for rcpts, m in self.messages]
        raise AssertionError(f"no {kind} mail for {address} within {timeout}s; received: {got}")


def _text_part(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def smtp():
    require_service("aiosmtpd", lambda: __import__("aiosmtpd.controller"), "pip install aiosmtpd")
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def server(smtp, tmp_path):
    controller, _ = smtp
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PFLOW_", "SMTP_", "OIDC_")) and key not in (
               "DATABASE_URL", "RABBITMQ_URL", "WORKFLOW_ENGINE", "API_HTTP_PORT", "CAMUNDA_URL")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "WORKFLOW_ENGINE": "embedded",
        "DATABASE_URL": f"sqlite:///{data_dir / 'pflow.db'}",
        "RABBITMQ_URL": f"sqla+sqlite:///{data_dir / 'events.db'}",
        "PFLOW_DATA_DIR": str(data_dir),
        "API_HTTP_PORT": f"127.0.0.1:{port}",
        "PFLOW_SECRET_KEY": secrets.token_hex(24),
        "PFLOW_DEMO_USERS": "1",
        "PFLOW_PUBLIC_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(controller.port),
        "SMTP_SECURITY": "none",
        "PFLOW_DELIVERY_RETRY_BASE_S": "1",
    })
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "email-links-server.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen([sys.executable, "-c", "from pflow.entrypoints.cli import main; main()", "serve"],
                                 cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                if child.poll() is not None:
                    pytest.fail(f"pflow serve exited with {child.returncode}; see {log_path}:\n"
                                f"{log_path.read_text(errors='replace')[-4000:]}")
                try:
                    if requests.get(f"{url}/healthz", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"pflow serve was not healthy within 90 s; see {log_path}")
                time.sleep(0.2)
            yield url
        finally:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@pytest.fixture
def browser_prerequisites():
    node = shutil.which("node")
    require_service("Node.js", lambda: node or (_ for _ in ()).throw(FileNotFoundError("node is not on PATH")),
                    "install Node.js 20")
    require_service("the UI's node modules",
                    _exists(FRONTEND / "node_modules" / "playwright-core", "playwright-core"),
                    "run `npm --prefix frontend ci`")
    require_service("Chromium", _exists(CHROMIUM, "the Chromium binary"),
                    "run `apt-get install -y chromium fonts-noto-cjk` or set CHROMIUM_PATH")
    return node


def _follow(node: str, url: str, name: str, comment: str | None = None) -> dict:
    args = [node, "e2e/email-link.mjs", url, "--name", name]
    if comment is not None:
        args += ["--comment", comment]
    result = subprocess.run(args, cwd=FRONTEND, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PFLOW_E2E_ARTIFACTS": str(ARTIFACTS)})
    assert result.returncode == 0, f"email-link.mjs failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self._tokens: dict[str, str] = {}

    def _headers(self, user: str) -> dict[str, str]:
        if user not in self._tokens:
            r = requests.post(f"{self.url}/api/auth/login", json={"username": user, "password": user}, timeout=10)
            assert r.status_code == 200, r.text
            self._tokens[user] = r.json()["token"]
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    def get(self, path: str, user: str):
        return requests.get(self.url + path, headers=self._headers(user), timeout=30)

    def post(self, path: str, user: str, **kw):
        return requests.post(self.url + path, headers=self._headers(user), timeout=30, **kw)


def _wait_ticket(api: Api, ticket_id: str, predicate, what: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    ticket: dict = {}
    while time.monotonic() < deadline:
        ticket = api.get(f"/api/tickets/{ticket_id}", "alice").json()
        if predicate(ticket):
            return ticket
        time.sleep(0.3)
    raise AssertionError(f"the ticket did not reach {what} within {timeout}s: {ticket}")


def _approve_link(message, word: str = "Approve") -> str:
    text = _text_part(message)
    links = LINK.findall(text)
    assert len(links) == 2, f"expected an approve and a reject link in:\n{text}"
    approve = next(line for line in text.splitlines() if "/email-actions/" in line and word in line)
    return LINK.search(approve).group(1)


def test_a_purchase_is_decided_from_the_e_mails_in_a_browser(browser_prerequisites, smtp, server):
    node = browser_prerequisites
    _, inbox = smtp
    api = Api(server)
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Servers for the lab",
                                                "fields": {"amount": 5000, "supplier": "ACME"}})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]
    r = api.post(f"/api/tickets/{ticket_id}/submit", "alice")
    assert r.status_code == 200, r.text

    # the managers are asked; bob follows his approve link and confirms it in the browser
    to_bob = inbox.wait_for("bob@example.com", "task.created")
    assert "Manager Approval" in to_bob["Subject"] and "Servers for the lab" in to_bob["Subject"]
    dave = inbox.wait_for("dave@example.com", "task.created")
    assert dave["Content-Language"] == "zh-CN"
    link = _approve_link(to_bob)
    assert link.startswith(server + "/email-actions/")
    page = _follow(node, link, "email-link-bob", comment="Within budget")
    confirm, outcome = page["confirm"], page["outcome"]
    assert confirm["status"] == 200 and confirm["lang"] == "en", confirm
    assert "Approve this step?" in confirm["text"] and "Servers for the lab" in confirm["text"]
    assert "Manager Approval" in confirm["text"] and "Alice" in confirm["text"]
    assert outcome["status"] == 200 and "Approved" in outcome["text"], outcome
    ticket = _wait_ticket(api, ticket_id, lambda t: [s["name"] for s in t["steps"]] == ["Finance Approval"],
                          "Finance Approval")
    history = api.get(f"/api/tickets/{ticket_id}/history", "alice").json()
    (by_bob,) = [h for h in history if h["actor"] == "bob"]
    assert by_bob["comment"] == "Within budget" and by_bob["details"]["via"] == "email"

    # the same link again: used up, decides nothing more
    again = _follow_no_confirm(node, link, "email-link-bob-again")
    assert again["status"] == 410 and "This link was used already" in again["text"], again

    # dave (who reads Chinese) was asked too: his link now finds the step decided, in his language
    closed = _follow_no_confirm(node, _approve_link(dave, "批准"), "email-link-dave-closed")
    assert closed["status"] == 410 and closed["lang"] == "zh-CN" and "此步骤已不再待处理" in closed["text"], closed

    # finance is asked next; fiona approves from her mail
    to_fiona = inbox.wait_for("fiona@example.com", "task.created")
    assert "Finance Approval" in to_fiona["Subject"]
    page = _follow(node, _approve_link(to_fiona), "email-link-fiona")
    assert "Finance Approval" in page["confirm"]["text"] and "Approved" in page["outcome"]["text"], page
    ticket = _wait_ticket(api, ticket_id, lambda t: t["status"] == "completed", "completed")

    # the requester hears of each decision and of the outcome
    done = inbox.wait_for("alice@example.com", "ticket.completed")
    assert "Servers for the lab" in done["Subject"]
    reference = ticket["results"].get("fulfilment_reference")
    if reference:
        assert reference in _text_part(done)
    inbox.wait_for("alice@example.com", "task.completed")
    time.sleep(2)  # anything sent twice would arrive by now
    received = Counter((tuple(rcpts), m["X-PFlow-Kind"], m["Subject"]) for rcpts, m in inbox.messages)
    assert all(n == 1 for n in received.values()), received
    by_recipient = Counter(tuple(rcpts) for rcpts, _ in inbox.messages)
    assert by_recipient == {("bob@example.com",): 1, ("dave@example.com",): 1, ("fiona@example.com",): 1,
                            ("alice@example.com",): 3}, received
    for rcpts, message in inbox.messages:
        assert message["To"] == rcpts[0]


def _follow_no_confirm(node: str, url: str, name: str) -> dict:
    result = subprocess.run([node, "e2e/email-link.mjs", url, "--name", name, "--no-confirm"], cwd=FRONTEND,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PFLOW_E2E_ARTIFACTS": str(ARTIFACTS)})
    assert result.returncode == 0, f"email-link.mjs failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])["confirm"]
