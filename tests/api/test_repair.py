"""The admin's repair actions: bring one ticket in line with its process instance now (reconcile), and
start again what stopped (retry)."""

from __future__ import annotations

from tests.api.test_http_api import actions, error, submit, ticket


def test_an_admin_repairs_a_ticket_whose_process_was_stopped_in_the_engine(api, stack):
    t = submit(api)
    assert stack.engine.cancel(t["id"], "stopped in the engine") is True
    # Until someone looks, the ticket still shows the step it had: nothing claims it is done.
    assert ticket(api, t["id"])["current_steps"] == ["Manager Approval"]
    error(api.post(f"/api/tickets/{t['id']}/reconcile", "alice"), 403, "forbidden")
    error(api.post(f"/api/tickets/{t['id']}/reconcile", "bob"), 403, "forbidden")
    repaired = api.post(f"/api/tickets/{t['id']}/reconcile", "carol")
    assert repaired.status_code == 200, repaired.json
    assert repaired.json["status"] == "needs_attention" and repaired.json["attention"] == "process_stopped"
    assert repaired.json["steps"] == [] and repaired.json["current_steps"] == []
    assert repaired.json["allowed_actions"] == ["withdraw", "retry"]
    assert ticket(api, t["id"], "bob")["allowed_actions"] == []  # nothing to approve: the engine has no step
    history = api.get(f"/api/tickets/{t['id']}/history", "carol").json
    assert history[-1]["action"] == "needs_attention" and history[-1]["details"]["error"] == "process_stopped"
    again = api.post(f"/api/tickets/{t['id']}/reconcile", "carol")
    assert again.status_code == 200 and again.json["version"] == repaired.json["version"]  # idempotent
    restarted = api.post(f"/api/tickets/{t['id']}/retry", "carol", json={"comment": "start over"})
    assert restarted.status_code == 200, restarted.json
    assert restarted.json["status"] == "in_progress" and restarted.json["current_steps"] == ["Manager Approval"]
    assert "approve" in ticket(api, t["id"], "bob")["allowed_actions"]
    assert actions(api.get(f"/api/tickets/{t['id']}/history", "carol").json)[-2:] == ["retried", "resumed"]
    assert api.post(f"/api/tickets/{t['id']}/approve", "bob").status_code == 200


def test_reconcile_leaves_a_ticket_in_line_unchanged(api):
    t = submit(api)
    r = api.post(f"/api/tickets/{t['id']}/reconcile", "carol")
    assert r.status_code == 200 and r.json["version"] == t["version"]
    assert [s["id"] for s in r.json["steps"]] == [s["id"] for s in t["steps"]]
    assert r.json["current_steps"] == ["Manager Approval"] and r.json["status"] == "in_progress"


def test_repairing_an_unknown_ticket_is_404(api):
    error(api.post("/api/tickets/nope/reconcile", "carol"), 404, "not_found")
    error(api.post("/api/tickets/nope/retry", "carol"), 404, "not_found")
