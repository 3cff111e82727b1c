"""Webhooks over the API, delivered for real: admins register endpoints, PFlow POSTs each ticket event to a
local HTTP receiver through its own HTTP transport, signed with the endpoint's secret, retried with backoff
while the receiver fails, the endpoint disabled after too many failures in a row and enabled again by an
admin; every event reaches the receiver once. The delivery sender is run by hand, on a clock the test moves."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dependency_injector import providers

from pflow.domain.outbound import (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
                                   signature_valid)
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import STACKS, build_stack, free_port

PUBLIC_URL = "https://pflow.example.org"
DISABLE_AFTER = 3


class Receiver:
    """An HTTP server on a free loopback port recording every POST; ``status`` is what it answers. ``stop``
    takes it down (connections refused), ``start`` brings it back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="webhook-receiver").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture(params=STACKS)
def hook_stack(request, tmp_path):
    stack = build_stack(request.param, tmp_path, public_url=PUBLIC_URL, delivery_retry_base_s=1,
                        webhook_disable_after=DISABLE_AFTER)
    # The sender's "now" is the stack's movable clock, so a test moves past a backoff instead of waiting.
    stack.container.delivery_sender.add_kwargs(clock=providers.Object(stack.clock.now))
    yield stack
    stack.close()


@pytest.fixture
def hapi(hook_stack):
    return ApiClient(create_app(hook_stack.container))


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def flush(stack) -> int:
    """Hand the events to the consumer, then send what is due now; returns how many attempts were made."""
    stack.deliver_events()
    sender = stack.container.delivery_sender()
    attempts = 0
    while True:
        made = sender.send_due()
        if not made:
            return attempts
        attempts += made


def register(api, url: str, **body) -> dict:
    r = api.post("/api/webhooks", "carol", json={"url": url, "event_types": ["ticket.*", "task.*"], **body})
    assert r.status_code == 201, r.json
    return r.json


def submit_ticket(api, title: str = "Laptops") -> str:
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": title,
                                                "fields": {"amount": 1200, "supplier": "ACME"}})
    assert r.status_code == 201, r.json
    assert api.post(f"/api/tickets/{r.json['id']}/submit", "alice").status_code == 200
    return r.json["id"]


def log_of(api, webhook_id: str) -> list[dict]:
    r = api.get(f"/api/webhooks/{webhook_id}/deliveries", "carol")
    assert r.status_code == 200, r.json
    return r.json["items"]


def field_paths(response) -> set[str]:
    assert response.status_code == 422, response.json
    return set(response.json["error"]["fields"])


# --- managing endpoints

def test_an_admin_registers_reads_changes_and_removes_an_endpoint(hapi):
    created = register(hapi, "https://hooks.example.com/pflow", description="ERP", format="json")
    assert len(created["secret"]) >= 32  # made by PFlow, shown this once
    assert created["created_by"] == "carol" and created["active"] is True
    assert created["consecutive_failures"] == 0 and created["disabled_reason"] is None
    listed = hapi.get("/api/webhooks", "carol").json["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    one = hapi.get(f"/api/webhooks/{created['id']}", "carol").json
    assert "secret" not in one and one["url"] == "https://hooks.example.com/pflow"
    assert one["event_types"] == ["ticket.*", "task.*"] and one["description"] == "ERP"

    r = hapi.patch(f"/api/webhooks/{created['id']}", "carol",
                   json={"url": "http://erp.internal/hook", "event_types": ["*"], "format": "slack",
                         "description": "chat"})
    assert r.status_code == 200, r.json
    assert (r.json["url"], r.json["event_types"], r.json["format"], r.json["description"]) == \
        ("http://erp.internal/hook", ["*"], "slack", "chat")
    assert "secret" not in r.json
    paused = hapi.patch(f"/api/webhooks/{created['id']}", "carol", json={"active": False}).json
    assert paused["active"] is False and paused["disabled_reason"] is None

    assert hapi.delete(f"/api/webhooks/{created['id']}", "carol").status_code == 204
    gone = hapi.get(f"/api/webhooks/{created['id']}", "carol")
    assert gone.status_code == 404 and gone.json["error"]["key"] == "webhook.not_found"
    assert hapi.delete(f"/api/webhooks/{created['id']}", "carol").status_code == 404
    assert hapi.get("/api/webhooks", "carol").json["items"] == []


def test_a_given_secret_is_kept_and_shown_once(hapi):
    created = register(hapi, "https://hooks.example.com/a", secret="a-secret-of-24-characters")
    assert created["secret"] == "a-secret-of-24-characters"
    assert all("secret" not in e for e in hapi.get("/api/webhooks", "carol").json["items"])
    other = register(hapi, "https://hooks.example.com/b")
    assert other["secret"] != created["secret"]


def test_invalid_fields_are_refused_naming_each(hapi):
    r = hapi.post("/api/webhooks", "carol", json={"url": "ftp://files.example.com", "event_types": ["Ticket.*"],
                                                   "format": "xml", "description": "d" * 501, "secret": "short"})
    assert field_paths(r) == {"url", "event_types.0", "format", "description", "secret"}
    fields = r.json["error"]["fields"]
    assert fields["url"] == [{"key": "field.url", "params": {}}]
    assert fields["event_types.0"] == [{"key": "field.event_pattern", "params": {}}]
    assert fields["format"][0]["key"] == "field.one_of"
    assert fields["secret"] == [{"key": "field.min_length", "params": {"min": "16"}}]
    assert field_paths(hapi.post("/api/webhooks", "carol", json={"url": "https://x.example", "event_types": []})) \
        == {"event_types"}
    assert field_paths(hapi.post("/api/webhooks", "carol", json={"event_types": ["*"]})) == {"url"}
    assert field_paths(hapi.post("/api/webhooks", "carol", json={"url": "https://x.example", "event_types": ["*"],
                                                                  "colour": "red"})) == {"colour"}
    endpoint = register(hapi, "https://x.example/hook")
    r = hapi.patch(f"/api/webhooks/{endpoint['id']}", "carol", json={"url": "not a url", "active": "yes"})
    assert field_paths(r) == {"url", "active"}
    assert hapi.get("/api/webhooks", "carol").json["items"][0]["url"] == "https://x.example/hook"


def test_the_service_names_the_fields_for_callers_outside_http(hook_stack):
    from pflow.domain.errors import ValidationError

    carol = hook_stack.container.users().get("carol")
    with pytest.raises(ValidationError) as raised:
        hook_stack.container.webhooks().register(carol, url="mailto:x@example.com", event_types=["ticket.*", "T!"],
                                                 format="xml", description="x" * 501, secret="0123")
    assert set(raised.value.details) == {"url", "event_types.1", "format", "description", "secret"}
    with pytest.raises(ValidationError) as raised:
        hook_stack.container.webhooks().register(carol, url="https://x.example", event_types=[])
    assert set(raised.value.details) == {"event_types"}


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_only_admins_manage_webhooks(hapi, user):
    endpoint = register(hapi, "https://hooks.example.com/pflow")
    path = f"/api/webhooks/{endpoint['id']}"
    answers = [hapi.get("/api/webhooks", user), hapi.post("/api/webhooks", user, json={"url": "https://x.example",
                                                                                      "event_types": ["*"]}),
               hapi.get(path, user), hapi.patch(path, user, json={"active": False}), hapi.delete(path, user),
               hapi.get(f"{path}/deliveries", user), hapi.post(f"{path}/test", user)]
    assert [r.status_code for r in answers] == [403] * 7
    assert {r.json["error"]["key"] for r in answers} == {"auth.admins_only"}
    assert hapi.get("/api/webhooks").status_code == 401
    assert hapi.get(path, "carol").json["active"] is True  # nothing changed


# --- delivering

def test_each_event_reaches_the_receiver_signed_and_is_in_the_delivery_log(hook_stack, hapi, receiver):
    endpoint = register(hapi, receiver.url)
    ticket_id = submit_ticket(hapi)
    flush(hook_stack)
    events = receiver.events()
    assert [e["type"] for e in events] == ["ticket.created", "ticket.submitted", "task.created"]
    assert {e["ticket_id"] for e in events} == {ticket_id}
    now_s = hook_stack.clock()
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert request["path"] == "/hook"
        assert headers["Content-Type"] == "application/json"
        assert signature_valid(endpoint["secret"], headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER],
                               now_s)
        assert not signature_valid("another-secret-entirely", headers[TIMESTAMP_HEADER], body,
                                   headers[SIGNATURE_HEADER], now_s)
        assert not signature_valid(endpoint["secret"], headers[TIMESTAMP_HEADER], body + b" ",
                                   headers[SIGNATURE_HEADER], now_s)
        assert abs(int(headers[TIMESTAMP_HEADER]) - now_s) < 60
        assert headers[EVENT_HEADER] == json.loads(body)["type"]

    log = log_of(hapi, endpoint["id"])
    assert sorted(d["event_type"] for d in log) == ["task.created", "ticket.created", "ticket.submitted"]
    assert {d["status"] for d in log} == {"sent"} and {d["attempts"] for d in log} == {1}
    assert {d["response_code"] for d in log} == {200}
    assert all(d["sent_at"] and d["latency_ms"] is not None and d["last_error"] is None for d in log)
    assert {d["id"] for d in log} == {r["headers"][DELIVERY_HEADER] for r in receiver.requests}
    assert {d["event_id"] for d in log} == {e["event_id"] for e in events}
    assert [d["created_at"] for d in log] == sorted((d["created_at"] for d in log), reverse=True)  # newest first
    assert len(hapi.get(f"/api/webhooks/{endpoint['id']}/deliveries?limit=1", "carol").json["items"]) == 1
    # consumed again: nothing is sent twice
    flush(hook_stack)
    assert len(receiver.requests) == 3


def test_an_endpoint_gets_only_the_event_types_it_asked_for(hook_stack, hapi, receiver):
    register(hapi, receiver.url, event_types=["task.created"])
    submit_ticket(hapi)
    flush(hook_stack)
    assert [e["type"] for e in receiver.events()] == ["task.created"]


def test_slack_and_teams_get_a_chat_message_linking_to_the_ticket(hook_stack, hapi, receiver):
    register(hapi, receiver.url + "?to=slack", format="slack", event_types=["task.created"])
    register(hapi, receiver.url + "?to=teams", format="teams", event_types=["task.created"])
    ticket_id = submit_ticket(hapi, "Standing desks")
    flush(hook_stack)
    by_target = {r["path"].split("=")[1]: json.loads(r["body"]) for r in receiver.requests}
    assert set(by_target) == {"slack", "teams"}
    link = f"{PUBLIC_URL}/tickets/{ticket_id}"

    slack = by_target["slack"]
    assert "Standing desks" in slack["text"]
    assert [b["type"] for b in slack["blocks"]] == ["section", "actions", "context"]
    section, actions, context = slack["blocks"]
    assert section["text"]["type"] == "mrkdwn" and "Standing desks" in section["text"]["text"]
    button = actions["elements"][0]
    assert button["type"] == "button" and button["text"]["type"] == "plain_text" and button["url"] == link
    assert all(e["type"] == "mrkdwn" and "task.created" in e["text"] for e in context["elements"])

    teams = by_target["teams"]
    assert teams["@type"] == "MessageCard" and teams["@context"] == "https://schema.org/extensions"
    assert "Standing desks" in teams["text"] and teams["summary"] and teams["title"] == "PFlow: task.created"
    [action] = teams["potentialAction"]
    assert action["@type"] == "OpenUri" and action["targets"] == [{"os": "default", "uri": link}]


def test_a_receiver_answering_500_is_retried_with_backoff(hook_stack, hapi, receiver):
    endpoint = register(hapi, receiver.url, event_types=["ticket.created"])
    receiver.status = 500
    hapi.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Chairs",
                                             "fields": {"amount": 100, "supplier": "ACME"}})
    assert flush(hook_stack) == 1
    [delivery] = log_of(hapi, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("pending", 1, 500)
    assert "500" in delivery["last_error"] and delivery["sent_at"] is None
    assert flush(hook_stack) == 0  # not due before its backoff (1 s)
    hook_stack.clock.advance(1.5)
    assert flush(hook_stack) == 1
    [delivery] = log_of(hapi, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("pending", 2, 500)
    hook_stack.clock.advance(1.5)
    assert flush(hook_stack) == 0  # the backoff doubled: 2 s after the second failure
    hook_stack.clock.advance(1)
    receiver.status = 200
    assert flush(hook_stack) == 1
    [delivery] = log_of(hapi, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("sent", 3, 200)
    assert len(receiver.requests) == 3
    assert len({r["headers"][DELIVERY_HEADER] for r in receiver.requests}) == 1  # one delivery, three attempts
    assert hapi.get(f"/api/webhooks/{endpoint['id']}", "carol").json["consecutive_failures"] == 0


def test_an_endpoint_down_too_long_is_disabled_and_enabled_again_by_an_admin(hook_stack, hapi, receiver):
    endpoint = register(hapi, receiver.url, event_types=["ticket.created"])
    receiver.stop()
    chairs = hapi.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Chairs",
                                                      "fields": {"amount": 100, "supplier": "ACME"}}).json["id"]
    for attempt in range(DISABLE_AFTER):
        assert flush(hook_stack) == 1, attempt
        hook_stack.clock.advance(2 ** attempt + 0.5)
    state = hapi.get(f"/api/webhooks/{endpoint['id']}", "carol").json
    assert state["active"] is False and state["consecutive_failures"] == DISABLE_AFTER
    assert str(DISABLE_AFTER) in state["disabled_reason"] and "failed" in state["disabled_reason"]
    [delivery] = log_of(hapi, endpoint["id"])
    assert delivery["status"] == "pending" and delivery["attempts"] == DISABLE_AFTER
    assert delivery["response_code"] is None and "not reachable" in delivery["last_error"]
    # while disabled, new events are not queued for it
    hapi.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Desks",
                                             "fields": {"amount": 100, "supplier": "ACME"}})
    hook_stack.deliver_events()
    assert len(log_of(hapi, endpoint["id"])) == 1

    receiver.start()
    r = hapi.patch(f"/api/webhooks/{endpoint['id']}", "carol", json={"active": True})
    assert r.status_code == 200, r.json
    assert (r.json["active"], r.json["consecutive_failures"], r.json["disabled_reason"]) == (True, 0, None)
    hook_stack.clock.advance(60)
    flush(hook_stack)
    assert [e["type"] for e in receiver.events()] == ["ticket.created"]
    lamps = hapi.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Lamps",
                                                     "fields": {"amount": 100, "supplier": "ACME"}}).json["id"]
    flush(hook_stack)
    assert [e["ticket_id"] for e in receiver.events()] == [chairs, lamps]  # delivery resumed
    statuses = Counter(d["status"] for d in log_of(hapi, endpoint["id"]))
    assert statuses == {"sent": 2}


def test_a_receiver_down_for_a_while_gets_every_event_exactly_once(hook_stack, hapi, receiver):
    hook_stack.container.delivery_sender().disable_after = 1000  # kept on through every failure here
    register(hapi, receiver.url)
    receiver.stop()
    for n in range(3):
        submit_ticket(hapi, f"Ticket {n}")
        flush(hook_stack)  # refused: each delivery waits for its next attempt
        hook_stack.clock.advance(0.5)
    assert receiver.requests == []
    receiver.start()
    for _ in range(4):
        hook_stack.clock.advance(5)
        flush(hook_stack)
    events = receiver.events()
    per_delivery = Counter(r["headers"][DELIVERY_HEADER] for r in receiver.requests)
    per_event = Counter(e["event_id"] for e in events)
    assert len(events) == 9  # three tickets: created, submitted, task created
    assert set(per_delivery.values()) == {1} and set(per_event.values()) == {1}
    assert Counter(e["type"] for e in events) == {"ticket.created": 3, "ticket.submitted": 3, "task.created": 3}


def test_send_test_event_answers_and_is_logged(hook_stack, hapi, receiver):
    endpoint = register(hapi, receiver.url, event_types=["ticket.completed"])
    r = hapi.post(f"/api/webhooks/{endpoint['id']}/test", "carol")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "sent" and r.json["response_code"] == 200 and r.json["error"] is None
    assert r.json["latency_ms"] >= 0
    [request] = receiver.requests
    ping = json.loads(request["body"])
    assert ping["type"] == "ping" and ping["actor"] == "carol" and ping["data"]["endpoint"] == endpoint["id"]
    assert request["headers"][EVENT_HEADER] == "ping"
    assert signature_valid(endpoint["secret"], request["headers"][TIMESTAMP_HEADER], request["body"],
                           request["headers"][SIGNATURE_HEADER], hook_stack.clock())

    receiver.status = 500
    failed = hapi.post(f"/api/webhooks/{endpoint['id']}/test", "carol").json
    assert failed["status"] == "failed" and failed["response_code"] == 500 and "500" in failed["error"]
    receiver.stop()
    down = hapi.post(f"/api/webhooks/{endpoint['id']}/test", "carol").json
    assert down["status"] == "failed" and down["response_code"] is None and "not reachable" in down["error"]

    log = log_of(hapi, endpoint["id"])
    assert [d["event_type"] for d in log] == ["ping"] * 3
    assert [d["status"] for d in log] == ["failed", "failed", "sent"]
    assert [d["response_code"] for d in log] == [None, 500, 200]
    # failed tests do not count toward disabling the endpoint
    shown = hapi.get(f"/api/webhooks/{endpoint['id']}", "carol").json
    assert shown["consecutive_failures"] == 0 and shown["active"] is True
    # a failed test is not tried again
    hook_stack.clock.advance(3600)
    receiver.start()
    flush(hook_stack)
    assert len(receiver.requests) == 2
    assert hapi.post("/api/webhooks/nope/test", "carol").status_code == 404
