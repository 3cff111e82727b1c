"""E-mails and webhook calls made from the real event path (outbox -> bus -> consumer -> deliveries -> sender),
on the in-memory and SQL stacks, with a recording mailer and webhook transport: who gets what, in which
language, signed, once."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from dependency_injector import providers

from pflow.adapters.memory.outbound import RecordingMailer, RecordingWebhookTransport
from pflow.domain.outbound import WebhookEndpoint, signature_valid
from pflow.entrypoints.http.app import create_app
from tests.conftest import ApiClient
from tests.support import build_stack


@pytest.fixture(params=["memory", "sqlite"])
def notify_stack(request, tmp_path):
    stack = build_stack(request.param, tmp_path, smtp_host="smtp.test", smtp_security="none", smtp_port=25,
                        public_url="https://pflow.test")
    mailer, transport = RecordingMailer(), RecordingWebhookTransport()
    stack.container.mailer.override(providers.Object(mailer))
    stack.container.webhook_transport.override(providers.Object(transport))
    stack.mailer, stack.transport = mailer, transport
    yield stack
    stack.close()


def _flush(stack) -> None:
    stack.deliver_events()
    sender = stack.container.delivery_sender()
    while sender.send_due():
        pass


def test_a_purchase_request_mails_the_managers_then_finance_then_the_requester(notify_stack):
    stack = notify_stack
    api = ApiClient(create_app(stack.container))
    store = stack.container.outbound_store()
    store.add_endpoint(WebhookEndpoint(id="hook-1", url="https://receiver.test/hook", secret="s3cret",
                                       event_types=("ticket.*", "task.*"), created_at=datetime.now(timezone.utc)))
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Servers",
                                                "fields": {"amount": 5000, "supplier": "ACME"}})
    ticket_id = r.json["id"]
    task = api.post(f"/api/tickets/{ticket_id}/submit", "alice").json["steps"][0]["id"]
    _flush(stack)
    mails = {m.to: m for m in stack.mailer.sent}
    assert set(mails) == {"bob@example.com", "dave@example.com", "frank@example.com"}
    assert "Manager Approval" in mails["bob@example.com"].subject and "Servers" in mails["bob@example.com"].subject
    assert "\u5f85\u529e" in mails["dave@example.com"].subject  # dave reads Chinese
    assert "https://pflow.test/email-actions/" in mails["bob@example.com"].text
    calls = [json.loads(body) for _, body, _ in stack.transport.calls]
    assert [c["type"] for c in calls] == ["ticket.created", "ticket.submitted", "task.created"]
    for _, body, headers in stack.transport.calls:
        assert signature_valid("s3cret", headers["X-PFlow-Timestamp"], body, headers["X-PFlow-Signature"],
                               int(headers["X-PFlow-Timestamp"]))
    # delivered again: nothing new is sent
    before = (len(stack.mailer.sent), len(stack.transport.calls))
    _flush(stack)
    assert (len(stack.mailer.sent), len(stack.transport.calls)) == before
    assert api.post(f"/api/tasks/{task}/complete", "bob", json={"variables": {"manager_decision": "approve"},
                                                                "comment": "ok"}).status_code == 200
    _flush(stack)
    new = [m.to for m in stack.mailer.sent[before[0]:]]
    assert sorted(new) == ["alice@example.com", "fiona@example.com", "frank@example.com"]
