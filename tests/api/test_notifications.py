"""GET /api/notifications and marking them read, fed by the real event path (outbox -> bus -> consumer):
a new step tells whoever may act on it, what happens to a ticket tells its requester, a failed automated
step tells the admins."""

from __future__ import annotations

from datetime import datetime

from tests.support import wait_until


def _ticket(api, title="Laptop", who="alice", **extra):
    r = api.post("/api/tickets", who, json={"title": title, **extra})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _submitted(api, stack, title="Laptop", **extra):
    ticket_id = _ticket(api, title, amount="1200.50", **extra)
    r = api.post(f"/api/tickets/{ticket_id}/submit", "alice")
    assert r.status_code == 200, r.json
    stack.deliver_events()
    return ticket_id


def _kinds(api, user):
    return [(n["kind"], n["message"]) for n in api.get("/api/notifications", user).json["items"]]


def test_the_candidates_of_a_new_step_are_told_it_awaits_them(api, stack):
    ticket_id = _submitted(api, stack)
    for manager in ("bob", "dave", "frank"):  # everyone in the step's candidate group
        body = api.get("/api/notifications", manager).json
        assert (body["total"], body["unread"], body["page"], body["page_size"]) == (1, 1, 1, 20)
        (note,) = body["items"]
        assert note["ticket_id"] == ticket_id and note["kind"] == "task.created" and note["read_at"] is None
        assert note["message"] == 'Manager Approval of ticket "Laptop" from alice awaits you.'
        assert datetime.fromisoformat(note["created_at"]).tzinfo is not None
        assert note["params"] == {"title": "Laptop", "step": "Manager Approval", "requester": "alice"}
        assert set(note) == {"id", "ticket_id", "kind", "message", "params", "created_at", "read_at"}
    for nobody in ("alice", "carol", "fiona", "sam"):  # the requester, and people outside the group
        assert api.get("/api/notifications", nobody).json["total"] == 0, nobody


def test_finance_is_told_only_when_the_purchase_reaches_it(api, stack):
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "Servers",
                                                "fields": {"amount": 5000, "supplier": "ACME"}})
    ticket_id = r.json["id"]
    task = api.post(f"/api/tickets/{ticket_id}/submit", "alice").json["steps"][0]["id"]
    stack.deliver_events()
    assert api.get("/api/notifications", "fiona").json["total"] == 0
    assert api.post(f"/api/tasks/{task}/complete", "bob", json={"variables": {"manager_decision": "approve"},
                                                                "comment": "ok"}).status_code == 200
    stack.deliver_events()
    assert _kinds(api, "fiona") == [("task.created", 'Finance Approval of ticket "Servers" from alice awaits you.')]
    assert _kinds(api, "alice") == [("task.completed", 'bob completed Manager Approval of your ticket "Servers". '
                                                       "Comment: ok")]


def test_the_requester_is_told_of_each_step_and_the_outcome(api, stack):
    rejected = _submitted(api, stack, "Rejected one")
    approved = _submitted(api, stack, "Approved one")
    assert api.post(f"/api/tickets/{rejected}/reject", "bob", json={"comment": "over budget"}).status_code == 200
    stack.deliver_events()
    assert api.post(f"/api/tickets/{approved}/approve", "dave", json={"comment": "go"}).status_code == 200
    stack.deliver_events()
    items = _kinds(api, "alice")
    assert items[0] == ("task.completed", 'dave completed Manager Approval of your ticket "Approved one". Comment: go')
    assert set(items[1:]) == {
        ("ticket.rejected", 'Your ticket "Rejected one" was rejected.'),
        ("task.completed", 'bob completed Manager Approval of your ticket "Rejected one". Comment: over budget')}
    assert len(items) == 3  # the automated step opening tells nobody
    worker = stack.worker()
    wait_until(lambda: worker.run_once(wait_ms=1000), message="no automated step to run")
    stack.deliver_events()
    newest = api.get("/api/notifications", "alice").json["items"][0]
    assert (newest["kind"], newest["ticket_id"]) == ("ticket.completed", approved)
    reference = api.get(f"/api/tickets/{approved}", "alice").json["results"]["fulfilment_reference"]
    assert newest["message"] == f'Your ticket "Approved one" is done (fulfilment reference {reference}).'
    assert newest["params"]["reference"] == reference  # the UI words it from there
    assert api.get("/api/notifications", "dave").json["total"] == 2  # two task.created, nothing of the outcome


def test_a_failed_automated_step_is_reported_to_the_requester_and_the_admins(api, stack):
    stack.container.provisioner().failing = True
    ticket_id = _submitted(api, stack, "Server")
    assert api.post(f"/api/tickets/{ticket_id}/approve", "bob").status_code == 200
    worker = stack.worker()

    def attention():
        worker.run_once(wait_ms=200)
        return api.get(f"/api/tickets/{ticket_id}", "alice").json["status"] == "needs_attention"

    wait_until(attention, timeout=30, message="the failed step never needed attention")
    stack.deliver_events()
    error = api.get(f"/api/tickets/{ticket_id}", "carol").json["attention"]
    assert error.startswith("ProvisioningError")
    for user in ("alice", "carol"):
        newest = api.get("/api/notifications", user).json["items"][0]
        assert newest["kind"] == "ticket.needs_attention", (user, newest)
    admin = api.get("/api/notifications", "carol").json["items"][0]
    assert admin["params"]["error"] == error and admin["params"]["step"]
    assert admin["message"] == (f'Ticket "Server" needs attention: {error} ({admin["params"]["step"]}). '
                                'Retry it from the incidents page.')
    requester = api.get("/api/notifications", "alice").json["items"][0]
    assert "error" not in requester["params"] and "ProvisioningError" not in requester["message"]
    assert requester["message"] == 'Ticket "Server" needs attention. An admin has been told and can retry it.'
    assert all(n["kind"] != "ticket.needs_attention" for n in api.get("/api/notifications", "bob").json["items"])


def test_withdrawing_tells_the_requester_only_when_someone_else_did_it(api, stack):
    mine = _submitted(api, stack, "Mine")
    by_admin = _submitted(api, stack, "By admin")
    assert api.post(f"/api/tickets/{mine}/withdraw", "alice").status_code == 200
    assert api.post(f"/api/tickets/{by_admin}/withdraw", "carol").status_code == 200
    stack.deliver_events()
    assert _kinds(api, "alice") == [("ticket.withdrawn", 'Ticket "By admin" was withdrawn.')]


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
    assert [key for key, _, _ in sent] == ["ticket.created", "ticket.submitted", "task.created"]
    for key, body, message_id in sent:  # as a relay would after a crash between publishing and marking sent
        publisher.publish(key, body, message_id=message_id)
    assert stack.container.notification_consumer().drain(0.2) == 3  # handled (acknowledged) ...
    assert api.get("/api/notifications", "bob").json["total"] == 1  # ... but applied only once


def test_a_decision_made_around_pflow_in_the_engine_is_refused_and_reported_to_the_admins(api, stack, caplog):
    """Dave, a manager, requests a server, then approves it himself straight in the engine: PFlow does not apply
    it, starts the process over, writes an audit line and tells every admin (not the requester)."""
    import json
    import logging

    ticket_id = _ticket(api, "Server", who="dave", amount="1200.50")
    assert api.post(f"/api/tickets/{ticket_id}/submit", "dave").status_code == 200
    task_id = api.get(f"/api/tickets/{ticket_id}", "dave").json["steps"][0]["id"]
    stack.engine.complete_task(task_id, {"approved": True}, completed_by="dave")
    stack.tickets.heal_after_s = -60  # old enough to be healed now
    with caplog.at_level(logging.WARNING, logger="pflow.audit"):
        healed = api.post(f"/api/tickets/{ticket_id}/reconcile", "carol")
    assert healed.status_code == 200, healed.json
    assert healed.json["status"] == "in_progress" and [s["name"] for s in healed.json["steps"]] == ["Manager Approval"]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "pflow.audit"
             and '"decision.refused"' in r.getMessage()]
    assert lines == [{"event": "decision.refused", "ticket_id": ticket_id, "step": lines[0]["step"], "by": "dave",
                      "reason": "own_ticket", "recorded_from": "engine"}]
    stack.deliver_events()
    admin = api.get("/api/notifications", "carol").json["items"][0]
    assert admin["kind"] == "ticket.decision_refused", admin
    assert admin["params"]["by"] == "dave" and admin["params"]["reason"] == "own_ticket"
    assert "completed in the engine by dave" in admin["message"]
    assert all(n["kind"] != "ticket.decision_refused" for n in api.get("/api/notifications", "dave").json["items"])
