"""The HTTP API through the Flask test client, on each adapter set."""

from __future__ import annotations

import json

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from pflow.entrypoints.http.auth import SALT
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import SEPARATE_ENGINE_STACKS, build_stack, wait_until


def create(api, user="alice", **data):
    r = api.post("/api/tickets", user, json={"title": "Laptop", **data})
    assert r.status_code == 201, r.json
    return r.json


def submit(api, user="alice", **data):
    t = create(api, user, **data)
    r = api.post(f"/api/tickets/{t['id']}/submit", user)
    assert r.status_code == 200, r.json
    return r.json


def error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body = r.json["error"]
    assert set(body) == {"code", "message", "details"} and body["message"]
    if code:
        assert body["code"] == code
    return body


# --- authentication ---------------------------------------------------------------------------

def test_login_returns_a_token_and_the_user(api):
    r = api.post("/api/auth/login", json={"username": "bob", "password": "bob"})
    assert r.status_code == 200
    assert r.json["user"] == {"username": "bob", "display_name": "Bob", "roles": ["manager"]}
    me = api.get("/api/me", headers={"Authorization": f"Bearer {r.json['token']}"})
    assert me.json["username"] == "bob"


@pytest.mark.parametrize("credentials", [{"username": "bob", "password": "nope"},
                                         {"username": "nobody", "password": "nobody"}])
def test_bad_credentials_are_401(api, credentials):
    error(api.post("/api/auth/login", json=credentials), 401, "unauthorized")


def test_login_needs_both_fields(api):
    body = error(api.post("/api/auth/login", json={"username": "bob"}), 422, "validation_error")
    assert "password" in body["details"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic Ym9iOmJvYg==", "Bearer forged.token.value"])
def test_api_routes_need_a_valid_token(api, header):
    headers = {"Authorization": header} if header else {}
    error(api.get("/api/tickets", headers=headers), 401, "unauthorized")


def test_an_expired_token_is_refused(api):
    class PastSigner(TimestampSigner):
        def get_timestamp(self):
            return super().get_timestamp() - 10 * 24 * 3600

    token = URLSafeTimedSerializer(api.app.config["SECRET_KEY"], salt=SALT, signer=PastSigner).dumps({"u": "bob"})
    body = error(api.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "expired" in body["message"]


def test_health_needs_no_token(api):
    assert api.get("/healthz").json == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    assert set(ready.json["checks"]) == {"database", "workflow_engine", "event_broker"}


# --- tickets ------------------------------------------------------------------------------------

def test_create_returns_the_draft(api):
    t = create(api, amount="1200.5", priority="high", description="for the new hire")
    assert t["status"] == "draft" and t["requester"] == "alice" and t["approver"] is None
    assert t["amount"] == "1200.50" and t["priority"] == "high" and t["version"] == 1
    assert t["allowed_actions"] == ["edit", "submit"]
    assert set(t) >= {"id", "title", "description", "amount", "priority", "status", "requester", "approver",
                      "created_at", "updated_at", "version"}


def test_numbers_are_fine_for_amounts(api):
    assert create(api, amount=99)["amount"] == "99.00"


def test_invalid_fields_are_all_named(api):
    r = api.post("/api/tickets", "alice", json={"title": " ", "amount": "-5", "priority": "urgent", "colour": 1})
    body = error(r, 422, "validation_error")
    assert set(body["details"]) == {"title", "amount", "priority", "colour"}


@pytest.mark.parametrize("payload, field", [({"title": 5}, "title"), ({"title": "x", "amount": "lots"}, "amount"),
                                            ({"title": "x", "amount": "Infinity"}, "amount")])
def test_wrong_types_are_422(api, payload, field):
    assert field in error(api.post("/api/tickets", "alice", json=payload), 422)["details"]


def test_malformed_json_is_400_and_creates_nothing(api):
    r = api.post("/api/tickets", "alice", data="{\"title\": ", headers={"Content-Type": "application/json"})
    error(r, 400, "bad_request")
    assert api.get("/api/tickets", "alice").json["total"] == 0


def test_a_json_array_is_not_a_ticket(api):
    r = api.post("/api/tickets", "alice", data=json.dumps(["x"]), headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    error(r, r.status_code)


def test_listing_filters_and_pages(api):
    ids = [create(api, title=f"Item {i}")["id"] for i in range(5)]
    create(api, "erin", title="Erin's monitor")
    api.post(f"/api/tickets/{ids[0]}/submit", "alice")
    page = api.get("/api/tickets?page=1&page_size=2", "bob").json
    assert page["total"] == 6 and len(page["items"]) == 2 and page["page_size"] == 2
    assert api.get("/api/tickets?status=pending_approval", "bob").json["items"][0]["id"] == ids[0]
    assert api.get("/api/tickets?requester=erin", "bob").json["total"] == 1
    assert api.get("/api/tickets?q=monitor", "bob").json["items"][0]["requester"] == "erin"
    assert api.get("/api/tickets", "alice").json["total"] == 5  # requesters see their own only


@pytest.mark.parametrize("query, field", [("status=lost", "status"), ("page=0", "page"), ("page=abc", "page"),
                                          ("page_size=500", "page_size")])
def test_bad_list_queries_are_422(api, query, field):
    assert field in error(api.get(f"/api/tickets?{query}", "bob"), 422)["details"]


def test_unknown_and_foreign_tickets_are_404(api):
    error(api.get("/api/tickets/does-not-exist", "bob"), 404, "not_found")
    theirs = create(api, "erin")
    error(api.get(f"/api/tickets/{theirs['id']}", "alice"), 404)
    error(api.post(f"/api/tickets/{theirs['id']}/submit", "alice"), 404)


def test_editing_a_draft(api):
    t = create(api)
    r = api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Better laptop", "version": 1})
    assert r.status_code == 200 and r.json["title"] == "Better laptop" and r.json["version"] == 2
    stale = api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Stale edit", "version": 1})
    error(stale, 409, "conflict")
    error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"amount": "-1"}), 422)
    error(api.patch(f"/api/tickets/{t['id']}", "erin", json={"title": "mine"}), 404)
    api.post(f"/api/tickets/{t['id']}/submit", "alice")
    error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "late"}), 409, "invalid_transition")


def test_the_whole_flow_to_completed(api, stack):
    t = submit(api)
    assert t["status"] == "pending_approval" and t["allowed_actions"] == []
    assert api.get(f"/api/tickets/{t['id']}", "bob").json["allowed_actions"] == ["approve", "reject"]
    inbox = api.get("/api/approvals", "bob").json
    assert [i["id"] for i in inbox["items"]] == [t["id"]]
    r = api.post(f"/api/tickets/{t['id']}/approve", "bob", json={"comment": "ok"})
    assert r.status_code == 200 and r.json["status"] == "approved" and r.json["approver"] == "bob"
    worker = stack.worker()
    wait_until(lambda: worker.run_once(wait_ms=1000), message="no provisioning task")
    done = api.get(f"/api/tickets/{t['id']}", "alice").json
    assert done["status"] == "completed" and done["fulfilment_reference"].startswith("PRV-")
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert [h["action"] for h in history] == ["created", "submitted", "approved", "completed"]
    assert history[2]["actor"] == "bob" and history[2]["comment"] == "ok"
    process = api.get(f"/api/tickets/{t['id']}/process", "alice").json
    assert process["state"] == "completed" and "Completed" in process["completed_activity_ids"]
    assert "ticket_approval" in process["definition_xml"]


def test_refusals(api):
    t = submit(api)
    error(api.post(f"/api/tickets/{t['id']}/submit", "alice"), 409, "invalid_transition")
    error(api.post(f"/api/tickets/{t['id']}/approve", "alice"), 403, "forbidden")
    error(api.post(f"/api/tickets/{t['id']}/approve", "carol"), 403)
    body = error(api.post(f"/api/tickets/{t['id']}/reject", "bob", json={}), 422)
    assert "comment" in body["details"]
    draft = create(api)
    error(api.post(f"/api/tickets/{draft['id']}/approve", "bob"), 409, "invalid_transition")
    error(api.get("/api/approvals", "alice"), 403)
    error(api.post(f"/api/tickets/{t['id']}/retry-provisioning", "carol"), 409)


def test_reject_with_a_comment(api):
    t = submit(api)
    r = api.post(f"/api/tickets/{t['id']}/reject", "bob", json={"comment": "Over budget"})
    assert r.status_code == 200 and r.json["status"] == "rejected"
    assert api.get(f"/api/tickets/{t['id']}/history", "alice").json[-1]["comment"] == "Over budget"


def test_an_approve_body_is_optional(api):
    t = submit(api)
    assert api.post(f"/api/tickets/{t['id']}/approve", "bob").status_code == 200


# --- dependencies down ------------------------------------------------------------------------

@pytest.fixture(params=SEPARATE_ENGINE_STACKS)
def separate_engine_stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def test_engine_down_is_503_and_the_ticket_stays_a_draft(separate_engine_stack):
    stack = separate_engine_stack
    api = ApiClient(create_app(stack.container))
    t = create(api)
    stack.take_engine_down()
    body = error(api.post(f"/api/tickets/{t['id']}/submit", "alice"), 503, "service_unavailable")
    assert body["details"]["dependency"] == stack.engine.name
    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.json["error"]["details"]["unavailable"] == ["workflow_engine"]
    stack.bring_engine_back()
    assert api.get(f"/api/tickets/{t['id']}", "alice").json["status"] == "draft"
    assert api.post(f"/api/tickets/{t['id']}/submit", "alice").status_code == 200


def test_database_down_is_503_naming_the_database(api, stack):
    api.token("alice")
    stack.make_database_unreachable()
    body = error(api.get("/api/tickets", "alice"), 503)
    assert body["details"]["dependency"] == "database"
    ready = api.get("/readyz")
    assert ready.status_code == 503 and "database" in ready.json["error"]["message"]


# --- documentation ----------------------------------------------------------------------------

def test_openapi_document_is_valid_and_complete(api):
    from openapi_spec_validator import validate

    spec = api.get("/api/openapi.json").json
    validate(spec)
    paths = spec["paths"]
    for path in ("/api/auth/login", "/api/tickets", "/api/tickets/{ticket_id}", "/api/tickets/{ticket_id}/submit",
                 "/api/tickets/{ticket_id}/approve", "/api/tickets/{ticket_id}/reject",
                 "/api/tickets/{ticket_id}/retry-provisioning", "/api/tickets/{ticket_id}/history",
                 "/api/approvals", "/api/me"):
        assert path in paths, path
    assert paths["/api/auth/login"]["post"]["security"] == []


def test_swagger_ui_is_served_without_a_cdn(api):
    page = api.get("/api/docs")
    assert page.status_code == 200 and b"/api/docs/assets/swagger-ui-bundle.js" in page.data
    assert api.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_routes_are_json_404(api):
    error(api.get("/api/nothing-here", "alice"), 404)
