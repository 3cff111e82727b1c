"""Separation of duties through the HTTP API: whoever edited a draft counts as a requester of it.

The finding: a user with the admin and manager roles edited someone else's draft (amount 900 -> 250 000),
submitted it and approved it himself."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from pflow.adapters.users import ConfiguredUserDirectory
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import _TEST_USERS, build_stack

#: an admin who is also a manager: a candidate of the managers' approval steps
MAX = ("max", "Max", ["admin", "manager"], ["managers"])
NINA = ("nina", "Nina", ["admin", "manager"], ["managers"])


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def api(request, tmp_path):
    stack = build_stack(request.param, tmp_path)
    stack.container.users.override(ConfiguredUserDirectory(
        {"username": u, "display_name": n, "roles": r, "groups": g,
         "password_hash": generate_password_hash(u, "pbkdf2:sha256:1000")}
        for u, n, r, g in [*_TEST_USERS, MAX, NINA]))
    yield ApiClient(create_app(stack.container))
    stack.close()


def _edited_and_submitted_by_max(api, type_: str, fields: dict) -> dict:
    r = api.post("/api/tickets", "alice", json={"type": type_, "title": "Purchase", "fields": fields})
    assert r.status_code == 201, r.json
    draft = r.json
    r = api.patch(f"/api/tickets/{draft['id']}", "max", json={"fields": {"amount": 250_000}},
                  headers={"If-Match": str(draft["version"])})
    assert r.status_code == 200, r.json
    assert r.json["fields"]["amount"] == 250_000 and r.json["requester"] == "alice"
    r = api.post(f"/api/tickets/{draft['id']}/submit", "max")
    assert r.status_code == 200, r.json
    return r.json


@pytest.mark.parametrize("type_, fields", [("purchase_request", {"amount": 900, "supplier": "ACME"}),
                                           ("it_request", {"amount": 900})])
def test_an_admin_manager_who_edited_someone_elses_draft_cannot_approve_it(api, type_, fields):
    submitted = _edited_and_submitted_by_max(api, type_, fields)
    tid = submitted["id"]
    seen = api.get(f"/api/tickets/{tid}", "max").json
    step = seen["steps"][0]
    assert step["candidate_groups"] == ["managers"]
    assert (step["can_complete"], step["refusal"]) == (False, "last_editor")
    assert "approve" not in seen["allowed_actions"]
    r = api.post(f"/api/tickets/{tid}/approve", "max", json={})
    assert r.status_code == 403, r.json
    assert r.json["error"]["details"]["reason"] == "last_editor"
    assert r.json["error"]["key"] == "step.refused.last_editor"
    r = api.post(f"/api/tasks/{step['id']}/complete", "max", json={"variables": {"approved": True}})
    assert r.status_code == 403 and r.json["error"]["details"]["reason"] == "last_editor"
    assert all(i["ticket"]["id"] != tid for i in api.get("/api/tasks", "max").json["items"])
    assert api.get(f"/api/tickets/{tid}", "alice").json["status"] == "in_progress"
    # Another manager still decides it.
    assert api.post(f"/api/tickets/{tid}/approve", "bob", json={}).status_code == 200


def test_the_requesters_own_edit_afterwards_does_not_clear_the_editor(api):
    """Max raises the amount, Alice then only fixes the title and submits: Max still may not approve it."""
    r = api.post("/api/tickets", "alice", json={"type": "it_request", "title": "Laptop", "fields": {"amount": 900}})
    draft = r.json
    r = api.patch(f"/api/tickets/{draft['id']}", "max", json={"fields": {"amount": 250_000}},
                  headers={"If-Match": str(draft["version"])})
    assert r.status_code == 200, r.json
    r = api.patch(f"/api/tickets/{draft['id']}", "alice", json={"title": "Laptop for Alice"},
                  headers={"If-Match": str(r.json["version"])})
    assert r.status_code == 200 and r.json["fields"]["amount"] == 250_000
    assert api.post(f"/api/tickets/{draft['id']}/submit", "alice").status_code == 200
    r = api.post(f"/api/tickets/{draft['id']}/approve", "max", json={})
    assert r.status_code == 403, r.json
    assert r.json["error"]["details"]["reason"] == "last_editor"
    assert all(i["ticket"]["id"] != draft["id"] for i in api.get("/api/tasks", "max").json["items"])
    assert api.post(f"/api/tickets/{draft['id']}/approve", "bob", json={}).status_code == 200


def test_two_admins_who_edited_a_draft_in_turn_are_both_refused_its_decisions(api):
    """Max raises the amount, Nina then edits it too: not only Nina, the last editor, but Max as well is refused."""
    r = api.post("/api/tickets", "alice", json={"type": "it_request", "title": "Laptop", "fields": {"amount": 900}})
    draft = r.json
    r = api.patch(f"/api/tickets/{draft['id']}", "max", json={"fields": {"amount": 250_000}},
                  headers={"If-Match": str(draft["version"])})
    assert r.status_code == 200, r.json
    r = api.patch(f"/api/tickets/{draft['id']}", "nina", json={"title": "Laptops"},
                  headers={"If-Match": str(r.json["version"])})
    assert r.status_code == 200, r.json
    assert api.post(f"/api/tickets/{draft['id']}/submit", "alice").status_code == 200
    seen = api.get(f"/api/tickets/{draft['id']}", "max").json
    step = seen["steps"][0]
    for who in ("max", "nina"):
        mine = api.get(f"/api/tickets/{draft['id']}", who).json["steps"][0]
        assert (mine["can_complete"], mine["refusal"]) == (False, "last_editor"), who
        r = api.post(f"/api/tickets/{draft['id']}/approve", who, json={})
        assert r.status_code == 403, r.json
        assert r.json["error"]["details"]["reason"] == "last_editor"
        assert r.json["error"]["key"] == "step.refused.last_editor"
        r = api.post(f"/api/tasks/{step['id']}/complete", who, json={"variables": {"approved": True}})
        assert r.status_code == 403 and r.json["error"]["details"]["reason"] == "last_editor"
        assert all(i["ticket"]["id"] != draft["id"] for i in api.get("/api/tasks", who).json["items"]), who
    assert api.post(f"/api/tickets/{draft['id']}/approve", "bob", json={}).status_code == 200
