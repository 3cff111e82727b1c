"""The admin's repair action: bring one ticket in line with its process instance now."""

from __future__ import annotations


def test_an_admin_repairs_a_ticket_whose_process_was_lost(api, stack):
    t = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json
    api.post(f"/api/tickets/{t['id']}/submit", "alice")
    stack.engine.cancel_process(t["id"], "lost in the engine")
    assert api.post(f"/api/tickets/{t['id']}/reconcile", "alice").status_code == 403
    assert api.post(f"/api/tickets/{t['id']}/reconcile", "bob").status_code == 403
    repaired = api.post(f"/api/tickets/{t['id']}/reconcile", "carol")
    assert repaired.status_code == 200, repaired.json
    assert "approve" in api.get(f"/api/tickets/{t['id']}", "bob").json["allowed_actions"]
    history = api.get(f"/api/tickets/{t['id']}/history", "carol").json
    assert history[-1]["action"] == "process_restarted"


def test_repairing_an_unknown_ticket_is_404(api):
    assert api.post("/api/tickets/nope/reconcile", "carol").status_code == 404
