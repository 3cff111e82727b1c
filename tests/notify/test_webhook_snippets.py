"""The webhook receiver examples of docs/notifications.md (examples/webhook-receivers/verify.py and verify.mjs) run
for real: their verify() accepts what PFlow signs (pflow.domain.outbound.signature) and refuses a tampered body, a
wrong secret and an old timestamp; their receivers, called by PFlow's own sender over HTTP, answer 2xx to a signed
call, 401 to a badly signed one, and handle a repeated delivery id once."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pflow.adapters.memory.outbound import InMemoryOutboundStore
from pflow.adapters.webhook_http import RequestsWebhookTransport
from pflow.config import REPO_ROOT
from pflow.domain.outbound import REPLAY_WINDOW_S, WebhookEndpoint, signature
from pflow.ports.outbound import DeliveryFailed
from pflow.service.outbound import DeliverySender, Links, MailComposer
from tests.support import TEST_USERS, require_service

EXAMPLES = REPO_ROOT / "examples" / "webhook-receivers"
SECRET = "whsec-test-7d1c0f3b9a"
# What PFlow sends: compact JSON, not ASCII-escaped (the Chinese title stays UTF-8 in the signed bytes)
BODY = json.dumps({"event_id": "e-1", "type": "task.created", "version": 2, "occurred_at": "2026-12-03T10:00:00+00:00",
                   "ticket_id": "t-1", "actor": "system", "data": {"title": "笔记本电脑", "task": {"id": "k-1"}}},
                  separators=(",", ":"), ensure_ascii=False).encode()


def python_snippet():
    spec = importlib.util.spec_from_file_location("webhook_verify_example", EXAMPLES / "verify.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node() -> str:
    path = shutil.which("node")
    require_service("node", lambda: path or (_ for _ in ()).throw(FileNotFoundError("node is not on PATH")),
                    "install Node.js 18 or later to run the Node.js example")
    return path


NODE_VERIFY = """
import { verify } from %s;
const cases = JSON.parse(await new Promise((done) => {
  let text = ""; process.stdin.on("data", (c) => (text += c)); process.stdin.on("end", () => done(text));
}));
console.log(JSON.stringify(cases.map((c) => verify(c.secret, Buffer.from(c.body, "base64"), c.timestamp, c.signature,
                                                 c.now === null ? {} : { now: c.now }))));
"""


def node_verify(cases: list[dict]) -> list[bool]:
    script = NODE_VERIFY % json.dumps((EXAMPLES / "verify.mjs").as_uri())
    payload = [{**c, "body": base64.b64encode(c["body"]).decode()} for c in cases]
    out = subprocess.run([node(), "--input-type=module", "-e", script], input=json.dumps(payload), text=True,
                         capture_output=True, timeout=30, check=True)
    return json.loads(out.stdout)


def cases() -> list[tuple[str, dict, bool]]:
    now = int(time.time())
    ts = str(now)
    signed = signature(SECRET, ts, BODY)
    old = str(now - REPLAY_WINDOW_S - 5)
    return [
        ("signed now", dict(secret=SECRET, body=BODY, timestamp=ts, signature=signed, now=None), True),
        ("signed within the window", dict(secret=SECRET, body=BODY, timestamp=ts, signature=signed,
                                          now=now + REPLAY_WINDOW_S - 1), True),
        ("tampered body", dict(secret=SECRET, body=BODY.replace(b'"t-1"', b'"t-2"'), timestamp=ts, signature=signed,
                               now=None), False),
        ("other secret", dict(secret="another-secret", body=BODY, timestamp=ts, signature=signed, now=None), False),
        ("timestamp changed", dict(secret=SECRET, body=BODY, timestamp=str(now + 1), signature=signed, now=None),
         False),
        ("old timestamp, correctly signed", dict(secret=SECRET, body=BODY, timestamp=old,
                                                 signature=signature(SECRET, old, BODY), now=None), False),
        ("no signature", dict(secret=SECRET, body=BODY, timestamp=ts, signature="", now=None), False),
        ("no timestamp", dict(secret=SECRET, body=BODY, timestamp="", signature=signed, now=None), False),
    ]


def test_the_python_verify_accepts_pflows_signature_and_refuses_the_rest():
    verify = python_snippet().verify
    results = {name: verify(c["secret"], c["body"], c["timestamp"], c["signature"],
                            **({} if c["now"] is None else {"now": c["now"]}))
               for name, c, _ in cases()}
    assert results == {name: expected for name, _, expected in cases()}


def test_the_node_verify_accepts_pflows_signature_and_refuses_the_rest():
    all_cases = cases()
    results = dict(zip([name for name, _, _ in all_cases], node_verify([c for _, c, _ in all_cases])))
    assert results == {name: expected for name, _, expected in all_cases}


# --- the receivers, called by PFlow's own sender ------------------------------------------------------------

def start(command: list[str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(command, cwd=EXAMPLES, env={**os.environ, "WEBHOOK_SECRET": SECRET, "PORT": "0"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise AssertionError(f"{command}: {line!r} {process.stderr.read()}")
    return process, line[len("listening on "):]


@pytest.fixture(params=["python", "node"])
def receiver(request):
    command = [sys.executable, "verify.py"] if request.param == "python" else [node(), "verify.mjs"]
    process, url = start(command)
    yield process, url
    if process.poll() is None:
        process.terminate()
        process.wait(10)


def test_the_receiver_takes_a_signed_call_once_and_refuses_a_badly_signed_one(receiver):
    process, url = receiver
    transport = RequestsWebhookTransport()
    sender = DeliverySender(InMemoryOutboundStore(), TEST_USERS, mailer=None, transport=transport,
                            composer=MailComposer(), links=Links("https://pflow.test"))
    event = json.loads(BODY)
    now = datetime.now(timezone.utc)
    good = WebhookEndpoint(id="w-1", url=url, secret=SECRET, event_types=("*",), created_at=now)
    try:
        assert sender.post(good, event, "笔记本电脑", "d-1") == 204
        assert sender.post(good, event, "笔记本电脑", "d-1") == 204  # a repeat: accepted, not handled again
        with pytest.raises(DeliveryFailed, match="HTTP 401") as refused:
            sender.post(WebhookEndpoint(id="w-2", url=url, secret="not-the-secret", event_types=("*",)), event, "",
                        "d-2")
        assert refused.value.status == 401
    finally:
        transport.close()
        process.terminate()
    out, _ = process.communicate(timeout=10)
    assert out.splitlines() == ["task.created t-1 e-1"]
