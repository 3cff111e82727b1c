"""GET /api/notifications and marking them read, fed by the real event path (outbox -> bus -> consumer)."""

from __future__ import annotations

from datetime import datetime


def _ticket(api, title="Laptop", who="alice", **extra):
    r = api.post("/api/tickets", who, json={"title": title, **extra})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _submitted(api, stack, title="Laptop"):
    ticket_id = _ticket(api, title, amount="1200.50")
    assert api.post(f"/api/tickets/{ticket_id}/submit", "alice").status_code == 200
    stack.deliver_events()
    return ticket_id


def test_managers_are_told_a_ticket_awaits_their_approval(api, stack):
    ticket_id = _submitted(api, stack)
    for manager in ("bob", "dave"):
        body = api.get("/api/notifications", manager).json
        assert (body["total"], body["unread"], body["page"], body["page_size"]) == (1, 1, 1, 20)
        (note,) = body["items"]
        assert note["ticket_id"] == ticket_id and note["kind"] == "ticket.submitted" and note["read_at"] is None
        assert note["message"] == 'Ticket "Laptop" for 1200.50 from alice awaits your approval.'
        assert datetime.fromisoformat(note["created_at"]).tzinfo is not None
        assert note["params"] == {"title": "Laptop", "amount": "1200.50", "actor": "alice"}
        assert set(note) == {"id", "ticket_id", "kind", "message", "params", "created_at", "read_at"}
    assert api.get("/api/notifications", "alice").json["total"] == 0  # requesters are not told of their own
    assert api.get("/api/notifications", "carol").json["total"] == 0  # admins are not managers


def test_the_requester_is_told_of_the_decision_and_the_outcome(api, stack):
    rejected = _submitted(api, stack, "Rejected one")
    approved = _submitted(api, stack, "Approved one")
    assert api.post(f"/api/tickets/{rejected}/reject", "bob", json={"comment": "over budget"}).status_code == 200
    assert api.post(f"/api/tickets/{approved}/approve", "dave", json={"comment": "go"}).status_code == 200
    stack.deliver_events()
    items = api.get("/api/notifications", "alice").json["items"]
    assert [(n["kind"], n["message"]) for n in items] == [
        ("ticket.approved", 'Your ticket "Approved one" was approved by dave. Comment: go'),
        ("ticket.rejected", 'Your ticket "Rejected one" was rejected by bob: over budget'),
    ]
    stack.tickets.complete_provisioning(approved, "PRV-7")
    stack.deliver_events()
    newest = api.get("/api/notifications", "alice").json["items"][0]
    assert (newest["kind"], newest["ticket_id"]) == ("ticket.completed", approved)
    assert newest["message"] == 'Your ticket "Approved one" is done (fulfilment reference PRV-7).'


def test_failed_provisioning_is_reported_to_the_requester(api, stack):
    ticket_id = _submitted(api, stack, "Server")
    assert api.post(f"/api/tickets/{ticket_id}/approve", "bob").status_code == 200
    stack.tickets.report_provisioning_failure(ticket_id, "quota exceeded")
    stack.deliver_events()
    newest = api.get("/api/notifications", "alice").json["items"][0]
    assert newest["kind"] == "ticket.provisioning_failed"
    assert newest["message"] == 'Provisioning of your ticket "Server" failed: quota exceeded An admin can retry it.'


def test_reading_notifications(api, stack):
    for i in range(3):
        _submitted(api, stack, f"Item {i}")
    listing = api.get("/api/notifications", "bob").json
    assert [n["message"].split('"')[1] for n in listing["items"]] == ["Item 2", "Item 1", "Item 0"]
    first = listing["items"][0]["id"]

    r = api.post(f"/api/notifications/{first}/read", "bob")
    assert r.status_code == 200 and r.json["id"] == first and r.json["read_at"] is not None
    again = api.post(f"/api/notifications/{first}/read", "bob")
    assert again.json["read_at"] == r.json["read_at"]
    unread = api.get("/api/notifications?unread_only=true", "bob").json
    assert (unread["total"], unread["unread"], len(unread["items"])) == (2, 2, 2)
    assert api.get("/api/notifications", "bob").json["unread"] == 2

    assert api.post(f"/api/notifications/{first}/read", "dave").status_code == 404  # not dave's
    missing = api.post("/api/notifications/no-such-id/read", "bob")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"

    assert api.post("/api/notifications/read-all", "bob").json == {"unread": 0}
    assert api.get("/api/notifications", "bob").json["unread"] == 0
    assert api.get("/api/notifications", "dave").json["unread"] == 3  # only bob's were marked


def test_paging_and_bad_arguments(api, stack):
    for i in range(3):
        _submitted(api, stack, f"Item {i}")
    page = api.get("/api/notifications?page=2&page_size=2", "bob").json
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (3, 2, 2, 1)
    bad = api.get("/api/notifications?page=0&page_size=500", "bob")
    assert bad.status_code == 422 and set(bad.json["error"]["details"]) == {"page", "page_size"}
    assert api.get("/api/notifications?unread_only=maybe", "bob").status_code == 422
    assert api.get("/api/notifications").status_code == 401


def test_a_redelivered_event_creates_no_second_notification(api, stack):
    _submitted(api, stack)
    publisher = stack.container.event_publisher()  # the API stacks use the in-memory bus, which keeps what it sent
    sent = list(publisher.messages)
    assert [key for key, _, _ in sent] == ["ticket.created", "ticket.submitted"]
    for key, body, message_id in sent:  # as a relay would after a crash between publishing and marking sent
        publisher.publish(key, body, message_id=message_id)
    assert stack.container.notification_consumer().drain(0.2) == 2  # handled (acknowledged) ...
    assert api.get("/api/notifications", "bob").json["total"] == 1  # ... but applied only once
