"""The HTTP API through the Flask test client, on each adapter set (the contract: /work/prompts/api12.md,
docs/api.md): ticket types, tickets that follow their process, the inbox of every group, steps completed
with their forms, and the lifecycle around them."""

from __future__ import annotations

import json

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from pflow.entrypoints.http.auth import SALT
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import SEPARATE_ENGINE_STACKS, build_stack, wait_until

STEP_KEYS = {"id", "step", "name", "candidate_groups", "candidate_users", "assignee", "due", "overdue", "created_at",
             "form", "can_complete", "refusal", "on_behalf_of", "can_claim", "can_unclaim"}
TICKET_KEYS = {"id", "type", "type_name", "title", "fields", "requester", "status", "current_steps", "attention",
               "attention_key", "results",
               "created_at", "updated_at", "version", "steps", "allowed_actions"}


def create(api, user="alice", **data):
    r = api.post("/api/tickets", user, json={"title": "Laptop", **data})
    assert r.status_code == 201, r.json
    return r.json


def submit(api, user="alice", **data):
    t = create(api, user, **data)
    r = api.post(f"/api/tickets/{t['id']}/submit", user)
    assert r.status_code == 200, r.json
    return r.json


def purchase(api, amount, user="alice", **fields):
    return submit(api, user, type="purchase_request", title=f"Purchase {amount}",
                  fields={"amount": amount, "supplier": "ACME", **fields})


def access(api, user="alice", **fields):
    return submit(api, user, type="access_request", title="Access to billing",
                  fields={"system": "billing", "access_level": "read", **fields})


from pflow.entrypoints.http.error_keys import ALL_KEYS  # noqa: E402


def error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body = r.json["error"]
    expected = {"code", "message", "details", "key", "params"} | ({"fields"} if status == 422 else set())
    assert set(body) == expected and body["message"]
    assert body["key"] in ALL_KEYS, body["key"]
    if code:
        assert body["code"] == code
    return body


def ticket(api, ticket_id, user="alice"):
    r = api.get(f"/api/tickets/{ticket_id}", user)
    assert r.status_code == 200, r.json
    return r.json


def step_named(t, name):
    found = [s for s in t["steps"] if s["name"] == name]
    assert len(found) == 1, (name, t["steps"])
    return found[0]


def complete(api, user, task_id, variables, comment=None):
    body = {"variables": variables}
    if comment is not None:
        body["comment"] = comment
    return api.post(f"/api/tasks/{task_id}/complete", user, json=body)


def completed_ok(api, user, task_id, variables, comment=None):
    r = complete(api, user, task_id, variables, comment)
    assert r.status_code == 200, r.json
    return r.json


def inbox(api, user, query=""):
    r = api.get(f"/api/tasks{'?' + query if query else ''}", user)
    assert r.status_code == 200, r.json
    return r.json


def run_automated_step(stack):
    worker = stack.worker()
    wait_until(lambda: worker.run_once(wait_ms=1000), message="no automated step to run")


def actions(history):
    return [h["action"] for h in history]


# --- authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("username, roles, groups", [("bob", ["manager"], ["managers"]), ("fiona", [], ["finance"]),
                                                     ("frank", ["manager"], ["finance", "managers"]),
                                                     ("carol", ["admin"], []), ("pat", [], ["legal"])])
def test_login_returns_a_token_and_the_user_with_groups(api, username, roles, groups):
    r = api.post("/api/auth/login", json={"username": username, "password": username})
    assert r.status_code == 200
    assert r.json["user"] == {"username": username, "display_name": username.title(), "roles": roles,
                              "groups": groups}
    me = api.get("/api/me", headers={"Authorization": f"Bearer {r.json['token']}"})
    assert me.json == {**r.json["user"], "sso": False}


@pytest.mark.parametrize("credentials", [{"username": "bob", "password": "nope"},
                                         {"username": "nobody", "password": "nobody"}])
def test_bad_credentials_are_401(api, credentials):
    error(api.post("/api/auth/login", json=credentials), 401, "unauthorized")


def test_login_needs_both_fields(api):
    body = error(api.post("/api/auth/login", json={"username": "bob"}), 422, "validation_error")
    assert "password" in body["details"]


@pytest.mark.parametrize("path", ["/api/tickets", "/api/ticket-types", "/api/tasks", "/api/approvals"])
@pytest.mark.parametrize("header", [None, "Bearer", "Basic Ym9iOmJvYg==", "Bearer forged.token.value"])
def test_api_routes_need_a_valid_token(api, header, path):
    headers = {"Authorization": header} if header else {}
    error(api.get(path, headers=headers), 401, "unauthorized")


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


# --- ticket types -----------------------------------------------------------------------------

def test_ticket_types_list_the_shipped_types_with_their_forms(api, stack):
    r = api.get("/api/ticket-types", "alice")
    assert r.status_code == 200, r.json
    by_key = {t["key"]: t for t in r.json}
    assert {"it_request", "purchase_request", "access_request"} <= set(by_key)
    assert [k for k, t in by_key.items() if t["default"]] == ["it_request"]
    for t in r.json:
        assert set(t) == {"key", "name", "names", "description", "descriptions", "process_key", "default",
                          "summary_fields", "form"}, t
        assert t["names"]["en"] == t["name"] and t["names"]["zh-CN"] and t["description"]
        assert t["form"]["type"] == "object" and t["form"]["additionalProperties"] is False
        assert set(t["summary_fields"]) <= set(t["form"]["properties"])
    it = by_key["it_request"]
    assert it["process_key"] == process_key(stack, "ticket_approval")
    assert set(it["form"]["properties"]) == {"description", "amount", "priority"}
    assert it["form"]["properties"]["priority"]["enum"] == ["low", "normal", "high"]
    assert it["form"]["properties"]["priority"]["default"] == "normal"
    assert it["form"]["properties"]["description"]["x-widget"] == "textarea"
    p = by_key["purchase_request"]
    assert p["process_key"] == process_key(stack, "purchase_request") and set(p["form"]["required"]) == {"amount", "supplier"}
    assert p["form"]["properties"]["amount"]["exclusiveMinimum"] == 0
    assert p["form"]["properties"]["amount"]["maximum"] == 1000000
    assert p["form"]["properties"]["needed_by"]["format"] == "date"
    a = by_key["access_request"]
    assert a["form"]["properties"]["access_level"]["enum"] == ["read", "write", "admin"]
    assert a["form"]["properties"]["temporary"]["type"] == "boolean"


def process_key(stack, shipped: str) -> str:
    """A shipped process's key; on the shared test Camunda, this test session's copy of it."""
    if stack.kind != "camunda":
        return shipped
    from tests.camunda.stack import session_process_key

    return session_process_key(shipped)


# --- drafts -------------------------------------------------------------------------------------

def test_create_without_a_type_is_a_draft_of_the_default_type(api):
    t = create(api, fields={"amount": 1200.5, "priority": "high", "description": "for the new hire"})
    assert set(t) == TICKET_KEYS
    assert t["type"] == "it_request" and t["type_name"] == "IT request"
    assert t["status"] == "draft" and t["requester"] == "alice" and t["version"] == 1
    assert t["fields"] == {"amount": 1200.5, "priority": "high", "description": "for the new hire"}
    assert t["steps"] == [] and t["current_steps"] == [] and t["attention"] is None
    assert t["allowed_actions"] == ["edit", "submit", "delete"]
    assert ticket(api, t["id"], "bob")["allowed_actions"] == []  # a manager sees it but it is not theirs


def test_the_old_body_shape_still_creates_a_default_type_ticket(api):
    t = create(api, description="for the new hire", amount="1200.50", priority="high")
    assert t["type"] == "it_request"
    assert t["fields"] == {"description": "for the new hire", "amount": 1200.5, "priority": "high"}
    assert create(api, amount=99)["fields"]["amount"] == 99
    assert create(api)["fields"] == {"priority": "normal"}  # the form's default


def test_create_a_typed_ticket(api):
    t = create(api, type="purchase_request", title="Monitors",
               fields={"amount": 5000, "supplier": "ACME", "needed_by": "2027-01-31"})
    assert t["type"] == "purchase_request" and t["type_name"] == "Purchase request"
    assert t["fields"] == {"amount": 5000, "supplier": "ACME", "needed_by": "2027-01-31"}
    a = create(api, type="access_request", fields={"system": "billing", "access_level": "write"})
    assert a["fields"] == {"system": "billing", "access_level": "write", "temporary": False}


@pytest.mark.parametrize("type_, fields, bad", [
    ("purchase_request", {}, {"amount", "supplier"}),
    ("purchase_request", {"amount": 0, "supplier": "ACME"}, {"amount"}),
    ("purchase_request", {"amount": -5, "supplier": "ACME"}, {"amount"}),
    ("purchase_request", {"amount": 1000000.01, "supplier": "ACME"}, {"amount"}),
    ("purchase_request", {"amount": "lots", "supplier": "ACME"}, {"amount"}),
    ("purchase_request", {"amount": 5, "supplier": "x" * 201}, {"supplier"}),
    ("purchase_request", {"amount": 5, "supplier": "ACME", "needed_by": "31/01/2027"}, {"needed_by"}),
    ("purchase_request", {"amount": 5, "supplier": "ACME", "colour": "red"}, {"colour"}),
    ("access_request", {"system": "billing", "access_level": "root"}, {"access_level"}),
    ("access_request", {"system": "billing", "access_level": "read", "temporary": "yes"}, {"temporary"}),
    ("it_request", {"priority": "urgent", "amount": -1}, {"priority", "amount"}),
    ("it_request", {"description": "d" * 4001}, {"description"}),
])
def test_fields_are_checked_against_the_types_form_per_field(api, type_, fields, bad):
    body = error(api.post("/api/tickets", "alice", json={"type": type_, "title": "x", "fields": fields}), 422,
                 "validation_error")
    assert set(body["details"]) == bad, body
    assert all(body["details"][name] and all(isinstance(m, str) for m in body["details"][name]) for name in bad)
    assert api.get("/api/tickets", "alice").json["total"] == 0


def test_an_unknown_type_is_422_naming_the_type(api):
    body = error(api.post("/api/tickets", "alice", json={"type": "pony", "title": "x"}), 422, "validation_error")
    assert set(body["details"]) == {"type"} and "it_request" in body["details"]["type"][0]


def test_invalid_fields_are_all_named(api):
    r = api.post("/api/tickets", "alice", json={"title": " ", "amount": "-5", "priority": "urgent", "colour": 1})
    body = error(r, 422, "validation_error")
    assert set(body["details"]) == {"title", "amount", "priority", "colour"}  # all of them, in one answer
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": " ", "colour": 1,
                                               "fields": {"amount": -5, "supplier": ""}})
    assert set(error(r, 422, "validation_error")["details"]) == {"title", "colour", "amount", "supplier"}


@pytest.mark.parametrize("payload, field", [({"title": 5}, "title"), ({"title": "x", "amount": "lots"}, "amount"),
                                            ({"title": "x", "amount": "Infinity"}, "amount"),
                                            ({"title": "x", "fields": []}, "fields"),
                                            ({"title": "x", "fields": None}, "fields"),
                                            ({"title": "x", "fields": None, "amount": None, "priority": ""}, "fields"),
                                            ({"title": "x", "fields": {"description": {"a": 1}}}, "description")])
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


def test_editing_a_draft(api):
    t = create(api, type="purchase_request", fields={"amount": 50, "supplier": "ACME"})
    r = api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Better laptop", "fields": {"amount": 70},
                                                           "version": 1})
    assert r.status_code == 200 and r.json["title"] == "Better laptop" and r.json["version"] == 2
    assert r.json["fields"] == {"amount": 70, "supplier": "ACME"}  # a partial change keeps the other fields
    stale = api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Stale edit", "version": 1})
    assert error(stale, 409, "conflict")["details"]["version"] == 2
    body = error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"fields": {"amount": -1, "size": 3}}), 422)
    assert set(body["details"]) == {"amount", "size"}
    error(api.patch(f"/api/tickets/{t['id']}", "erin", json={"title": "mine"}), 404)
    error(api.patch(f"/api/tickets/{t['id']}", "bob", json={"title": "theirs"}), 403, "forbidden")
    assert ticket(api, t["id"])["title"] == "Better laptop"
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert actions(history) == ["created", "updated"]
    assert history[1]["details"]["changed"] == ["amount", "title"]
    # Emptying an optional field in the form clears it; a required one cannot be emptied.
    filled = api.patch(f"/api/tickets/{t['id']}", "alice", json={"fields": {"cost_centre": "CC-7"}})
    assert filled.json["fields"]["cost_centre"] == "CC-7"
    cleared = api.patch(f"/api/tickets/{t['id']}", "alice", json={"fields": {"cost_centre": None, "supplier": "ACME"}})
    assert cleared.status_code == 200 and cleared.json["fields"] == {"amount": 70, "supplier": "ACME"}
    refused = error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"fields": {"supplier": ""}}), 422)
    assert refused["details"] == {"supplier": ["This field is required."]}
    assert ticket(api, t["id"])["fields"]["supplier"] == "ACME"
    api.post(f"/api/tickets/{t['id']}/submit", "alice")
    error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "late"}), 409, "invalid_transition")


def test_deleting_a_draft(api):
    t = create(api)
    error(api.call("DELETE", f"/api/tickets/{t['id']}", "erin"), 404)  # not hers, not visible
    error(api.call("DELETE", f"/api/tickets/{t['id']}", "bob"), 403, "forbidden")  # visible, not his
    r = api.call("DELETE", f"/api/tickets/{t['id']}", "alice")
    assert r.status_code == 204 and r.get_data() == b""
    error(api.get(f"/api/tickets/{t['id']}", "alice"), 404, "not_found")
    error(api.call("DELETE", f"/api/tickets/{t['id']}", "alice"), 404)
    by_admin = create(api, title="Admin deletes it")
    assert api.call("DELETE", f"/api/tickets/{by_admin['id']}", "carol").status_code == 204
    pending = submit(api, title="Pending")
    body = error(api.call("DELETE", f"/api/tickets/{pending['id']}", "alice"), 409, "invalid_transition")
    assert body["details"]["status"] == "in_progress"
    assert api.get("/api/tickets", "alice").json["total"] == 1


def test_listing_filters_sorts_and_pages(api):
    ids = [create(api, title=f"Item {i}")["id"] for i in range(5)]
    create(api, "erin", title="Erin's monitor")
    create(api, "erin", type="purchase_request", title="Desks", fields={"amount": 10, "supplier": "Oak Ltd"})
    api.post(f"/api/tickets/{ids[0]}/submit", "alice")
    page = api.get("/api/tickets?page=1&page_size=2", "bob").json
    assert page["total"] == 7 and len(page["items"]) == 2 and page["page_size"] == 2 and page["page"] == 1
    last = api.get("/api/tickets?page=4&page_size=2", "bob").json
    assert last["total"] == 7 and len(last["items"]) == 1
    in_progress = api.get("/api/tickets?status=in_progress", "bob").json
    assert [t["id"] for t in in_progress["items"]] == [ids[0]] and in_progress["total"] == 1
    assert api.get("/api/tickets?requester=erin", "bob").json["total"] == 2
    typed = api.get("/api/tickets?type=purchase_request", "bob").json
    assert [t["title"] for t in typed["items"]] == ["Desks"]
    assert api.get("/api/tickets?q=monitor", "bob").json["items"][0]["requester"] == "erin"
    assert api.get("/api/tickets?q=Oak", "bob").json["items"][0]["title"] == "Desks"  # q searches fields too
    assert [t["id"] for t in api.get(f"/api/tickets?q=%23{ids[3][:8]}", "bob").json["items"]] == [ids[3]]
    titles = [t["title"] for t in api.get("/api/tickets?sort=title&page_size=100", "bob").json["items"]]
    assert titles == sorted(titles)
    assert [t["title"] for t in api.get("/api/tickets?sort=-title&page_size=100", "bob").json["items"]] == titles[::-1]
    created = [t["id"] for t in api.get("/api/tickets?sort=created&page_size=100", "alice").json["items"]]
    assert created == ids
    assert api.get("/api/tickets", "alice").json["total"] == 5  # requesters see their own only
    theirs = api.get("/api/tickets?requester=erin&page_size=100", "alice").json["items"]
    assert theirs and {t["requester"] for t in theirs} == {"alice"}  # whatever they ask for


@pytest.mark.parametrize("query, field", [("status=lost", "status"), ("status=pending_approval", "status"),
                                          ("page=0", "page"), ("page=abc", "page"), ("page_size=500", "page_size"),
                                          ("sort=amount", "sort")])
def test_bad_list_queries_are_422(api, query, field):
    assert field in error(api.get(f"/api/tickets?{query}", "bob"), 422)["details"]


def test_unknown_and_foreign_tickets_are_404(api):
    error(api.get("/api/tickets/does-not-exist", "bob"), 404, "not_found")
    theirs = create(api, "erin")
    error(api.get(f"/api/tickets/{theirs['id']}", "alice"), 404)
    error(api.post(f"/api/tickets/{theirs['id']}/submit", "alice"), 404)
    error(api.get(f"/api/tickets/{theirs['id']}", "fiona"), 404)  # not a candidate of any of its steps


# --- one step: the IT request -----------------------------------------------------------------

def test_submit_starts_the_process_with_its_first_step(api):
    t = submit(api, fields={"amount": 1200.5, "priority": "high"})
    assert t["status"] == "in_progress" and t["current_steps"] == ["Manager Approval"]
    assert t["allowed_actions"] == ["withdraw"]
    (step,) = t["steps"]
    assert set(step) == STEP_KEYS
    assert step["step"] == "ManagerApproval" and step["candidate_groups"] == ["managers"]
    assert step["candidate_users"] == [] and step["assignee"] is None and step["id"]
    assert (step["can_complete"], step["refusal"]) == (False, "not_a_candidate")  # alice is in no group
    (field,) = step["form"]
    assert field == {"id": "approved", "label": "Approve?", "type": "boolean", "required": True, "default": None,
                     "values": [], "decision": True}
    as_bob = ticket(api, t["id"], "bob")
    assert as_bob["allowed_actions"] == ["approve", "reject"]
    assert (as_bob["steps"][0]["can_complete"], as_bob["steps"][0]["refusal"]) == (True, None)
    as_carol = ticket(api, t["id"], "carol")  # an admin is not a manager
    assert as_carol["allowed_actions"] == ["withdraw"] and as_carol["steps"][0]["refusal"] == "not_a_candidate"
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert actions(history) == ["created", "submitted"]
    assert (history[1]["from_status"], history[1]["to_status"]) == ("draft", "in_progress")
    process = api.get(f"/api/tickets/{t['id']}/process", "alice").json
    assert process["state"] == "active" and process["active_activity_ids"] == ["ManagerApproval"]


def test_the_whole_flow_to_completed(api, stack):
    t = submit(api)
    assert [i["id"] for i in api.get("/api/approvals", "bob").json["items"]] == [t["id"]]
    r = api.post(f"/api/tickets/{t['id']}/approve", "bob", json={"comment": "ok"})
    assert r.status_code == 200, r.json
    # The engine has the automated step open: in progress, never "done" ahead of it.
    assert r.json["status"] == "in_progress" and r.json["steps"] == []
    assert r.json["current_steps"] == ["Provision Service"]
    assert api.get("/api/approvals", "bob").json["total"] == 0
    run_automated_step(stack)
    done = ticket(api, t["id"])
    assert done["status"] == "completed" and done["steps"] == [] and done["current_steps"] == []
    assert done["allowed_actions"] == []
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert actions(history) == ["created", "submitted", "step_completed", "step_results", "completed"]
    step = history[2]
    assert step["actor"] == "bob" and step["comment"] == "ok"
    assert step["details"]["step"] == "ManagerApproval" and step["details"]["step_name"] == "Manager Approval"
    assert step["details"]["values"] == {"approved": True} and step["details"]["task_id"]
    reference = done["results"]["fulfilment_reference"]
    assert history[3]["actor"] == "system" and history[3]["details"]["reference"] == reference
    assert history[3]["details"]["results"] == {"fulfilment_reference": reference}
    assert history[3]["details"]["step_name"] == "Provision Service"
    assert history[4]["to_status"] == "completed"
    process = api.get(f"/api/tickets/{t['id']}/process", "alice").json
    assert process["state"] == "completed" and "Completed" in process["completed_activity_ids"]
    assert "ticket_approval" in process["definition_xml"]


def test_a_provisioned_ticket_is_found_by_part_of_its_fulfilment_reference(api, stack):
    t = submit(api, title="Monitor")
    other = submit(api, title="Keyboard")
    assert ticket(api, t["id"])["results"] == {}  # nothing returned yet
    assert api.post(f"/api/tickets/{t['id']}/approve", "bob").status_code == 200
    run_automated_step(stack)
    done = ticket(api, t["id"])
    reference = done["results"]["fulfilment_reference"]
    assert done["status"] == "completed" and reference.startswith("PRV-")
    part = reference[3:9].lower()  # a piece from its middle, in the other case
    for user in ("alice", "bob"):  # the requester and a manager
        found = api.get("/api/tickets", user, query_string={"q": part}).json
        assert [i["id"] for i in found["items"]] == [t["id"]] and found["total"] == 1
        assert found["items"][0]["results"] == {"fulfilment_reference": reference}
    assert api.get("/api/tickets", "alice", query_string={"q": reference.upper()}).json["total"] == 1
    assert ticket(api, other["id"])["results"] == {}
    assert api.get("/api/tickets", "alice", query_string={"q": "PRV-"}).json["total"] == 1


def test_reject_with_a_comment(api):
    t = submit(api)
    r = api.post(f"/api/tickets/{t['id']}/reject", "bob", json={"comment": "Over budget"})
    assert r.status_code == 200 and r.json["status"] == "rejected" and r.json["steps"] == []
    assert r.json["allowed_actions"] == []
    assert ticket(api, t["id"])["allowed_actions"] == ["resubmit"]
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert actions(history)[-2:] == ["step_completed", "rejected"]
    assert history[-2]["comment"] == "Over budget" and history[-2]["details"]["values"] == {"approved": False}
    # a person ended the process: no automated step ran, so there are no results to read from the engine
    assert ticket(api, t["id"])["results"] == {} and "step_results" not in actions(history)


def test_an_approve_body_is_optional(api):
    t = submit(api)
    assert api.post(f"/api/tickets/{t['id']}/approve", "bob").status_code == 200


def test_refusals(api, stack):
    t = submit(api)
    error(api.post(f"/api/tickets/{t['id']}/submit", "alice"), 409, "invalid_transition")
    assert error(api.post(f"/api/tickets/{t['id']}/approve", "alice"), 403, "forbidden")["details"]["reason"] == \
        "not_a_candidate"
    # A manager's own ticket: he is a candidate of its step, and separation of duties refuses him.
    own = submit(api, "bob", title="Bob's monitor")
    mine = ticket(api, own["id"], "bob")
    assert (mine["steps"][0]["can_complete"], mine["steps"][0]["refusal"]) == (False, "own_ticket")
    assert mine["allowed_actions"] == ["withdraw"]
    assert error(api.post(f"/api/tickets/{own['id']}/approve", "bob"), 403)["details"]["reason"] == "own_ticket"
    assert [i["ticket"]["id"] for i in inbox(api, "bob")["items"]] == [t["id"]]
    assert {i["ticket"]["id"] for i in inbox(api, "dave")["items"]} == {t["id"], own["id"]}
    assert error(api.post(f"/api/tickets/{t['id']}/approve", "carol"), 403)["details"]["reason"] == "not_a_candidate"
    body = error(api.post(f"/api/tickets/{t['id']}/reject", "bob", json={}), 422)
    assert "comment" in body["details"]
    draft = create(api)
    error(api.post(f"/api/tickets/{draft['id']}/approve", "bob"), 409)
    assert api.get("/api/approvals", "alice").json == {"items": [], "total": 0, "page": 1, "page_size": 20}
    assert error(api.post(f"/api/tickets/{t['id']}/retry", "carol"), 409)["details"]["status"] == "in_progress"
    error(api.post(f"/api/tickets/{t['id']}/retry", "alice"), 403)
    assert ticket(api, t["id"])["status"] == "in_progress"


def test_the_last_editor_may_not_complete_a_step(api, stack):
    from pflow.domain.users import User

    t = create(api, "erin", title="Printer")
    # dave, as an admin of the service (the API has no manager who is also an admin), last edits the draft.
    stack.tickets.update(User("dave", roles=frozenset({"admin"}), groups=frozenset({"managers"})), t["id"],
                         {"fields": {"amount": 5}})
    api.post(f"/api/tickets/{t['id']}/submit", "erin")
    assert ticket(api, t["id"], "erin")["steps"][0]["refusal"] == "not_a_candidate"
    step = ticket(api, t["id"], "dave")["steps"][0]
    assert (step["can_complete"], step["refusal"]) == (False, "last_editor")
    assert "approve" not in ticket(api, t["id"], "dave")["allowed_actions"]
    assert inbox(api, "dave")["total"] == 0 and inbox(api, "bob")["total"] == 1
    body = error(complete(api, "dave", step["id"], {"approved": True}), 403, "forbidden")
    assert body["details"]["reason"] == "last_editor"
    assert completed_ok(api, "bob", step["id"], {"approved": True})["steps"] == []


# --- two levels: the purchase request ----------------------------------------------------------

@pytest.mark.parametrize("amount, finance", [(500, False), (1000, False), (1000.01, True), (5000, True)])
def test_a_purchase_goes_to_finance_above_the_threshold(api, stack, amount, finance):
    t = purchase(api, amount)
    manager = step_named(t, "Manager Approval")
    assert manager["step"] == "ManagerApproval" and manager["candidate_groups"] == ["managers"]
    (decision,) = manager["form"]
    assert decision["type"] == "enum" and decision["decision"] is True and decision["required"] is True
    assert decision["values"] == [{"id": "approve", "name": "Approve"}, {"id": "reject", "name": "Reject"}]
    after = completed_ok(api, "bob", manager["id"], {"manager_decision": "approve"}, "fine")
    if finance:
        assert after["status"] == "in_progress" and after["current_steps"] == ["Finance Approval"]
        step = step_named(after, "Finance Approval")
        assert step["candidate_groups"] == ["finance"]
        assert step_named(ticket(api, t["id"], "bob"), "Finance Approval")["refusal"] == "not_a_candidate"
        assert [i["id"] for i in inbox(api, "fiona")["items"]] == [step["id"]]
        after = completed_ok(api, "fiona", step["id"], {"finance_decision": "approve"})
    assert after["status"] == "in_progress" and after["steps"] == [] and after["current_steps"] == ["Place Order"]
    run_automated_step(stack)
    assert ticket(api, t["id"])["status"] == "completed"
    steps = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_completed"]
    assert [(h["actor"], h["details"]["step"]) for h in steps] == \
        [("bob", "ManagerApproval")] + ([("fiona", "FinanceApproval")] if finance else [])
    assert steps[0]["details"]["values"] == {"manager_decision": "approve"} and steps[0]["comment"] == "fine"


def test_rejection_at_the_second_level_ends_rejected_with_the_reason(api):
    t = purchase(api, 5000)
    completed_ok(api, "bob", t["steps"][0]["id"], {"manager_decision": "approve"})
    finance = step_named(ticket(api, t["id"], "fiona"), "Finance Approval")
    body = error(complete(api, "fiona", finance["id"], {"finance_decision": "reject"}), 422, "validation_error")
    assert set(body["details"]) == {"comment"}  # a rejection says why
    assert ticket(api, t["id"])["status"] == "in_progress"
    r = api.post(f"/api/tickets/{t['id']}/reject", "fiona", json={"comment": "No budget left"})
    assert r.status_code == 200 and r.json["status"] == "rejected", r.json
    last = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert actions(last)[-2:] == ["step_completed", "rejected"]
    assert last[-2]["comment"] == "No budget left" and last[-2]["details"]["values"] == {"finance_decision": "reject"}


def test_an_order_the_worker_refuses_ends_the_purchase_rejected_at_order_refused(api, stack):
    """A worker that reports the BPMN error ORDER_REFUSED on Place Order (any worker: an official Camunda
    client does the same, examples/external-task-clients) ends the ticket rejected at "Order refused"."""
    t = purchase(api, 300)
    after = completed_ok(api, "bob", step_named(t, "Manager Approval")["id"], {"manager_decision": "approve"})
    assert after["current_steps"] == ["Place Order"]
    engine = stack.engine
    [order] = wait_until(lambda: engine.fetch_and_lock("refusing-worker", ["ticket-processing"], max_tasks=1,
                                                       lock_duration_ms=30_000, wait_ms=500, business_key=t["id"]),
                         message="Place Order was not fetched")
    assert order.activity_id == "PlaceOrder"
    engine.bpmn_error(order.id, "refusing-worker", "ORDER_REFUSED", error_message="the supplier refused the order")
    stack.tickets.sync(t["id"])
    done = ticket(api, t["id"])
    assert done["status"] == "rejected" and done["current_steps"] == [] and done["results"] == {}
    process = api.get(f"/api/tickets/{t['id']}/process", "alice").json
    assert process["state"] == "completed" and "OrderRefused" in process["completed_activity_ids"]
    assert "Completed" not in process["completed_activity_ids"]
    assert actions(api.get(f"/api/tickets/{t['id']}/history", "alice").json)[-1] == "rejected"


def test_the_results_of_a_step_another_worker_did_are_read_from_the_engine(api, stack):
    """Place Order done by a worker that is not PFlow's (an official Camunda client): PFlow never saw its
    results reported, so when the ticket follows its ended process it records them from the process's
    variables, less what the ticket started it with and what people's steps set."""
    t = purchase(api, 300)
    completed_ok(api, "bob", step_named(t, "Manager Approval")["id"], {"manager_decision": "approve"}, "ok")
    engine = stack.engine
    [order] = wait_until(lambda: engine.fetch_and_lock("someone-elses-worker", ["ticket-processing"], max_tasks=1,
                                                       lock_duration_ms=30_000, wait_ms=500, business_key=t["id"]),
                         message="Place Order was not fetched")
    engine.complete(order.id, "someone-elses-worker", {"provisionedBy": "camunda-java-client", "order_number": 42})
    stack.tickets.sync(t["id"])
    done = ticket(api, t["id"])
    assert done["status"] == "completed"
    assert done["results"] == {"provisionedBy": "camunda-java-client", "order_number": 42}
    [entry] = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_results"]
    assert entry["details"]["results"] == done["results"] and entry["details"]["recorded_from"] == "engine"
    stack.tickets.sync(t["id"])  # once
    assert len([h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json
                if h["action"] == "step_results"]) == 1


def test_four_eyes_across_levels(api):
    t = purchase(api, 5000)
    assert step_named(ticket(api, t["id"], "frank"), "Manager Approval")["can_complete"] is True
    completed_ok(api, "frank", t["steps"][0]["id"], {"manager_decision": "approve"})
    finance = step_named(ticket(api, t["id"], "frank"), "Finance Approval")
    assert (finance["can_complete"], finance["refusal"]) == (False, "second_decision")
    assert ticket(api, t["id"], "frank")["allowed_actions"] == []
    assert inbox(api, "frank")["total"] == 0
    body = error(complete(api, "frank", finance["id"], {"finance_decision": "approve"}), 403, "forbidden")
    assert body["details"]["reason"] == "second_decision"
    assert error(api.post(f"/api/tickets/{t['id']}/approve", "frank"), 403)["details"]["reason"] == "second_decision"
    assert ticket(api, t["id"])["current_steps"] == ["Finance Approval"]
    completed_ok(api, "fiona", finance["id"], {"finance_decision": "approve"})


# --- parallel: the access request --------------------------------------------------------------

def test_an_access_request_waits_for_both_groups(api, stack):
    t = access(api)
    assert sorted(t["current_steps"]) == ["Manager Approval", "Security Review"]
    security = step_named(t, "Security Review")
    assert security["candidate_groups"] == ["security"]
    process = api.get(f"/api/tickets/{t['id']}/process", "alice").json
    assert sorted(process["active_activity_ids"]) == ["ManagerApproval", "SecurityReview"]
    assert [i["step"] for i in inbox(api, "sam")["items"]] == ["SecurityReview"]
    as_bob = ticket(api, t["id"], "bob")
    assert as_bob["allowed_actions"] == ["approve", "reject"]  # exactly one decision open for him
    assert step_named(as_bob, "Security Review")["refusal"] == "not_a_candidate"
    r = api.post(f"/api/tickets/{t['id']}/approve", "bob")
    assert r.status_code == 200 and r.json["status"] == "in_progress" and r.json["current_steps"] == ["Security Review"]
    run_automated_step_none(stack)
    sam = completed_ok(api, "sam", security["id"], {"security_decision": "approve"}, "least privilege ok")
    assert sam["current_steps"] == ["Grant Access"] and sam["steps"] == []
    run_automated_step(stack)
    assert ticket(api, t["id"])["status"] == "completed"


def run_automated_step_none(stack):
    """No automated step runs while a parallel branch still waits for a person."""
    assert stack.worker().run_once(wait_ms=0) == 0


def test_one_rejection_of_the_parallel_review_rejects(api):
    t = access(api)
    completed_ok(api, "bob", step_named(t, "Manager Approval")["id"], {"manager_decision": "approve"})
    r = complete(api, "sam", step_named(t, "Security Review")["id"], {"security_decision": "reject"}, "too broad")
    assert r.status_code == 200 and r.json["status"] == "rejected", r.json
    assert ticket(api, t["id"])["results"] == {}


def test_any_one_of_a_group_completes_the_step_and_the_other_gets_409(api):
    t = submit(api)
    task_id = t["steps"][0]["id"]
    completed_ok(api, "dave", task_id, {"approved": True})
    body = error(complete(api, "bob", task_id, {"approved": True}), 409, "conflict")
    assert body["details"]["completed_by"] == "dave"
    assert error(api.get(f"/api/tasks/{task_id}", "bob"), 404)
    steps = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_completed"]
    assert [h["actor"] for h in steps] == ["dave"]


# --- candidate users and assignees ---------------------------------------------------------------

def test_a_candidate_user_step_and_an_assignee_expression_step(api):
    t = submit(api, type="contract_review", title="NDA", fields={"counterparty": "ACME"})
    legal = step_named(t, "Legal Review")
    assert legal["candidate_users"] == ["pat"] and legal["candidate_groups"] == []
    assert ticket(api, t["id"], "bob")["steps"][0]["refusal"] == "not_a_candidate"
    assert [i["id"] for i in inbox(api, "pat")["items"]] == [legal["id"]]
    assert inbox(api, "bob")["total"] == 0
    after = completed_ok(api, "pat", legal["id"], {"legal_ok": True})
    confirm = step_named(after, "Confirm Receipt")
    assert confirm["assignee"] == "alice"  # ${requester}
    # The process assigned her own ticket's step to her: as the conformance feature (features/routing.feature)
    # says, she completes it; nobody else may.
    mine = step_named(ticket(api, t["id"]), "Confirm Receipt")
    assert (mine["can_complete"], mine["refusal"]) == (True, None)
    assert [i["id"] for i in inbox(api, "alice")["items"]] == [confirm["id"]]
    assert step_named(ticket(api, t["id"], "pat"), "Confirm Receipt")["refusal"] == "not_a_candidate"
    assert error(complete(api, "bob", confirm["id"], {}), 403)["details"]["reason"] == "not_a_candidate"
    done = completed_ok(api, "alice", confirm["id"], {"note": "received"})
    assert done["status"] == "completed"


def test_a_renamed_task_id_still_works(api, stack):
    t = submit(api, type="renamed_request", title="Renamed")
    assert t["steps"][0]["step"] == "LeadApproval" and t["current_steps"] == ["Manager Approval"]
    r = api.post(f"/api/tickets/{t['id']}/approve", "bob")
    assert r.status_code == 200 and r.json["steps"] == [], r.json


# --- the inbox ---------------------------------------------------------------------------------

def test_each_group_sees_its_own_inbox(api):
    it = submit(api, title="Laptop")
    big = purchase(api, 5000)
    acc = access(api)
    erin = submit(api, "erin", title="Erin's chair")
    bob = inbox(api, "bob")
    assert bob["total"] == 4 and bob["page"] == 1 and bob["page_size"] == 20
    assert {(i["ticket"]["id"], i["step"]) for i in bob["items"]} == {
        (it["id"], "ManagerApproval"), (big["id"], "ManagerApproval"), (acc["id"], "ManagerApproval"),
        (erin["id"], "ManagerApproval")}
    item = next(i for i in bob["items"] if i["ticket"]["id"] == big["id"])
    assert set(item) == STEP_KEYS | {"ticket"} and item["can_complete"] is True and item["refusal"] is None
    assert item["ticket"] == {"id": big["id"], "type": "purchase_request", "type_name": "Purchase request",
                              "title": "Purchase 5000", "requester": "alice", "status": "in_progress",
                              "fields": {"amount": 5000, "supplier": "ACME"}, "created_at": big["created_at"]}
    assert inbox(api, "dave")["total"] == 4
    assert inbox(api, "fiona")["total"] == 0  # finance only after the manager
    assert [i["ticket"]["id"] for i in inbox(api, "sam")["items"]] == [acc["id"]]
    assert inbox(api, "pat")["total"] == 0 and inbox(api, "carol")["total"] == 0
    assert inbox(api, "alice")["total"] == 0  # her own tickets are never in her inbox
    assert [i["ticket"]["id"] for i in inbox(api, "erin")["items"]] == []
    task = api.get(f"/api/tasks/{item['id']}", "bob")
    assert task.status_code == 200 and task.json == item
    error(api.get(f"/api/tasks/{item['id']}", "erin"), 404)
    error(api.get("/api/tasks/no-such-task", "bob"), 404, "not_found")


def test_the_inbox_filters_sorts_and_pages(api):
    first = submit(api, title="First")
    purchase(api, 5000)
    access(api)
    assert [i["ticket"]["type"] for i in inbox(api, "bob", "type=access_request")["items"]] == ["access_request"]
    assert inbox(api, "bob", "group=managers")["total"] == 3
    assert inbox(api, "bob", "group=security")["total"] == 0
    assert inbox(api, "sam", "group=security")["total"] == 1
    assert inbox(api, "bob", "step=ManagerApproval")["total"] == 3
    assert inbox(api, "bob", "step=FinanceApproval")["total"] == 0
    assert inbox(api, "bob", "status=in_progress")["total"] == 3
    assert inbox(api, "bob", "status=completed")["total"] == 0
    oldest = inbox(api, "bob", "sort=created")["items"]
    newest = inbox(api, "bob", "sort=-created")["items"]
    assert [i["id"] for i in newest] == [i["id"] for i in oldest][::-1] and oldest[0]["ticket"]["id"] == first["id"]
    pages = [inbox(api, "bob", f"page={n}&page_size=2") for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [3, 3, 3] and [len(p["items"]) for p in pages] == [2, 1, 0]
    assert len({i["id"] for p in pages for i in p["items"]}) == 3
    approvals = api.get("/api/approvals?page=1&page_size=2", "bob").json
    assert approvals["total"] == 3 and len(approvals["items"]) == 2
    assert set(approvals["items"][0]) == TICKET_KEYS


@pytest.mark.parametrize("query, field", [("sort=title", "sort"), ("status=pending", "status"), ("page=0", "page"),
                                          ("page_size=101", "page_size"), ("q=" + "x" * 201, "q")])
def test_bad_inbox_queries_are_422(api, query, field):
    assert field in error(api.get(f"/api/tasks?{query}", "bob"), 422, "validation_error")["details"]


# --- completing a step -------------------------------------------------------------------------

def test_completing_a_step_checks_its_form_per_field(api):
    t = purchase(api, 5000)
    task_id = t["steps"][0]["id"]
    for variables, bad in [({}, {"manager_decision"}), ({"manager_decision": "maybe"}, {"manager_decision"}),
                           ({"manager_decision": True}, {"manager_decision"}),
                           ({"manager_decision": "approve", "approved": True}, {"approved"}),
                           ({"manager_decision": None}, {"manager_decision"})]:
        body = error(complete(api, "bob", task_id, variables), 422, "validation_error")
        assert set(body["details"]) == bad, (variables, body)
    body = error(api.post(f"/api/tasks/{task_id}/complete", "bob", json={"variables": []}), 422)
    assert "variables" in body["details"]
    body = error(api.post(f"/api/tasks/{task_id}/complete", "bob", json={"variables": {}, "colour": 1}), 422)
    assert body["details"]["colour"] == ["Unknown field."]
    assert ticket(api, t["id"])["current_steps"] == ["Manager Approval"]
    assert inbox(api, "bob")["total"] == 1
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert "step_completed" not in actions(history)


def test_a_boolean_decision_wants_a_boolean(api):
    t = submit(api)
    task_id = t["steps"][0]["id"]
    for bad in ("yes", 1, "true "):
        body = error(complete(api, "bob", task_id, {"approved": bad}), 422, "validation_error")
        assert set(body["details"]) == {"approved"}, (bad, body)
    body = error(complete(api, "bob", task_id, {"approved": False}), 422)
    assert set(body["details"]) == {"comment"}
    body = error(complete(api, "bob", task_id, {"approved": False}, "   "), 422)
    assert set(body["details"]) == {"comment"}
    assert completed_ok(api, "bob", task_id, {"approved": False}, "no")["status"] == "rejected"


def test_completing_refuses_who_may_not_with_the_reason(api):
    t = submit(api)
    task_id = t["steps"][0]["id"]
    for user, reason in [("alice", "not_a_candidate"), ("carol", "not_a_candidate")]:
        body = error(complete(api, user, task_id, {"approved": True}), 403, "forbidden")
        assert body["details"]["reason"] == reason
    own = submit(api, "dave", title="Dave's chair")
    body = error(complete(api, "dave", own["steps"][0]["id"], {"approved": True}), 403, "forbidden")
    assert body["details"]["reason"] == "own_ticket"
    error(complete(api, "erin", task_id, {"approved": True}), 404)  # not visible to her at all
    error(complete(api, "bob", "no-such-task", {"approved": True}), 404, "not_found")
    assert ticket(api, t["id"])["current_steps"] == ["Manager Approval"]


def test_a_completed_step_is_409_naming_who_completed_it(api):
    t = submit(api)
    task_id = t["steps"][0]["id"]
    completed_ok(api, "bob", task_id, {"approved": True})
    for user in ("bob", "dave"):
        body = error(complete(api, user, task_id, {"approved": True}), 409, "conflict")
        assert body["details"]["completed_by"] == "bob", body


def test_two_managers_completing_one_step_at_once_one_wins(api, stack):
    import threading

    t = submit(api)
    task_id = t["steps"][0]["id"]
    tokens = {u: api.token(u) for u in ("bob", "dave")}
    barrier = threading.Barrier(2)
    answers = {}

    def go(user):
        client = api.app.test_client(use_cookies=False)
        barrier.wait()
        answers[user] = client.post(f"/api/tasks/{task_id}/complete", json={"variables": {"approved": True}},
                                    headers={"Authorization": f"Bearer {tokens[user]}"})

    threads = [threading.Thread(target=go, args=(u,)) for u in tokens]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(r.status_code for r in answers.values()) == [200, 409], {u: r.json for u, r in answers.items()}
    winner = next(u for u, r in answers.items() if r.status_code == 200)
    loser = next(r for r in answers.values() if r.status_code == 409)
    assert loser.json["error"]["details"]["completed_by"] == winner
    steps = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_completed"]
    assert [h["actor"] for h in steps] == [winner]


# --- lifecycle -----------------------------------------------------------------------------------

def test_withdraw_cancels_the_process(api, stack):
    t = access(api)
    error(api.post(f"/api/tickets/{t['id']}/withdraw", "erin"), 404)
    error(api.post(f"/api/tickets/{t['id']}/withdraw", "bob"), 403, "forbidden")
    r = api.post(f"/api/tickets/{t['id']}/withdraw", "alice", json={"comment": "no longer needed"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "withdrawn" and r.json["steps"] == [] and r.json["current_steps"] == []
    assert r.json["allowed_actions"] == ["resubmit"]
    assert inbox(api, "bob")["total"] == 0 and inbox(api, "sam")["total"] == 0
    assert api.get(f"/api/tickets/{t['id']}/process", "alice").json["active_activity_ids"] == []
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert history[-1]["action"] == "withdrawn" and history[-1]["actor"] == "alice"
    assert history[-1]["comment"] == "no longer needed"
    error(api.post(f"/api/tickets/{t['id']}/withdraw", "alice"), 409, "invalid_transition")
    error(api.post(f"/api/tickets/{create(api)['id']}/withdraw", "alice"), 409)  # a draft is deleted, not withdrawn
    by_admin = submit(api, title="Admin takes it back")
    assert api.post(f"/api/tickets/{by_admin['id']}/withdraw", "carol").json["status"] == "withdrawn"


def test_resubmit_makes_a_new_draft_from_a_rejected_ticket(api):
    t = purchase(api, 700, cost_centre="CC-9")
    error(api.post(f"/api/tickets/{t['id']}/resubmit", "alice"), 409, "invalid_transition")
    api.post(f"/api/tickets/{t['id']}/reject", "bob", json={"comment": "ask again with a quote"})
    error(api.post(f"/api/tickets/{t['id']}/resubmit", "erin"), 404)
    error(api.post(f"/api/tickets/{t['id']}/resubmit", "bob"), 403)
    r = api.post(f"/api/tickets/{t['id']}/resubmit", "alice")
    assert r.status_code == 201, r.json
    new = r.json
    assert new["id"] != t["id"] and new["status"] == "draft" and new["type"] == "purchase_request"
    assert new["title"] == t["title"] and new["fields"] == {"amount": 700, "supplier": "ACME", "cost_centre": "CC-9"}
    assert new["version"] == 1 and new["allowed_actions"] == ["edit", "submit", "delete"]
    new_history = api.get(f"/api/tickets/{new['id']}/history", "alice").json
    assert new_history[-1]["action"] == "resubmitted_from" and new_history[-1]["details"]["ticket_id"] == t["id"]
    old_history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert old_history[-1]["action"] == "resubmitted_as" and old_history[-1]["details"]["ticket_id"] == new["id"]
    assert ticket(api, t["id"])["status"] == "rejected"
    assert api.post(f"/api/tickets/{new['id']}/submit", "alice").json["status"] == "in_progress"


def test_a_failed_automated_step_needs_attention_and_an_admin_retries(api, stack):
    stack.container.provisioner().failing = True
    t = submit(api)
    api.post(f"/api/tickets/{t['id']}/approve", "bob")
    worker = stack.worker()

    def attention():
        worker.run_once(wait_ms=200)
        return ticket(api, t["id"])["status"] == "needs_attention"

    wait_until(attention, timeout=30, message="the failed step never needed attention")
    seen = ticket(api, t["id"])
    # the requester reads a stable code, never the exception's text; an admin reads the error itself
    assert (seen["attention"], seen["attention_key"]) == ("step_failed", "attention.step_failed")
    assert seen["current_steps"] == ["Provision Service"]
    assert seen["allowed_actions"] == ["withdraw"]
    admin = ticket(api, t["id"], "carol")
    assert admin["allowed_actions"] == ["withdraw", "retry"]
    assert admin["attention"].startswith("ProvisioningError") and admin["attention_key"] == "attention.step_failed"
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert history[-1]["action"] == "needs_attention" and "error" not in history[-1]["details"]
    assert history[-1]["details"]["error_key"] == "attention.step_failed"
    assert "ProvisioningError" not in json.dumps(history) + json.dumps(seen)
    history = api.get(f"/api/tickets/{t['id']}/history", "carol").json
    assert history[-1]["details"]["error"] == admin["attention"]
    assert history[-1]["details"]["step_name"] == "Provision Service"
    error(api.post(f"/api/tickets/{t['id']}/retry", "alice"), 403, "forbidden")
    error(api.post(f"/api/tickets/{t['id']}/retry", "bob"), 403)
    stack.container.provisioner().failing = False
    r = api.post(f"/api/tickets/{t['id']}/retry", "carol", json={"comment": "backend is back"})
    assert r.status_code == 200 and r.json["status"] == "in_progress" and r.json["attention"] is None, r.json
    run_automated_step(stack)
    assert ticket(api, t["id"])["status"] == "completed"
    retried = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "retried"]
    assert [(h["actor"], h["comment"]) for h in retried] == [("carol", "backend is back")]


def test_history_keeps_every_step_with_its_values(api, stack):
    t = access(api)
    completed_ok(api, "bob", step_named(t, "Manager Approval")["id"], {"manager_decision": "approve"}, "ok by me")
    completed_ok(api, "sam", step_named(t, "Security Review")["id"], {"security_decision": "approve"})
    history = api.get(f"/api/tickets/{t['id']}/history", "bob").json
    for entry in history:
        assert set(entry) == {"at", "actor", "action", "from_status", "to_status", "comment", "details"}
    steps = [h for h in history if h["action"] == "step_completed"]
    assert [(h["actor"], h["details"]["step_name"], h["details"]["values"], h["comment"]) for h in steps] == [
        ("bob", "Manager Approval", {"manager_decision": "approve"}, "ok by me"),
        ("sam", "Security Review", {"security_decision": "approve"}, None)]
    assert len({h["details"]["task_id"] for h in steps}) == 2
    assert api.get(f"/api/tickets/{t['id']}/history", "sam").status_code == 200  # he acted on it


def test_two_types_side_by_side_do_not_see_each_others_steps(api):
    it = submit(api)
    big = purchase(api, 5000)
    completed_ok(api, "bob", big["steps"][0]["id"], {"manager_decision": "approve"})
    assert ticket(api, it["id"], "bob")["current_steps"] == ["Manager Approval"]
    assert ticket(api, big["id"], "bob")["current_steps"] == ["Finance Approval"]
    assert [i["ticket"]["id"] for i in inbox(api, "bob")["items"]] == [it["id"]]
    assert [i["ticket"]["id"] for i in inbox(api, "fiona")["items"]] == [big["id"]]


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
    pending = submit(api, title="Pending")
    stack.take_engine_down()
    body = error(api.post(f"/api/tickets/{t['id']}/submit", "alice"), 503, "service_unavailable")
    assert body["details"]["dependency"] == stack.engine.name
    body = error(complete(api, "bob", pending["steps"][0]["id"], {"approved": True}), 503, "service_unavailable")
    assert body["details"]["dependency"] == stack.engine.name
    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.json["error"]["details"]["unavailable"] == ["workflow_engine"]
    stack.bring_engine_back()
    assert ticket(api, t["id"])["status"] == "draft"
    assert ticket(api, pending["id"])["current_steps"] == ["Manager Approval"]
    assert api.post(f"/api/tickets/{t['id']}/submit", "alice").json["status"] == "in_progress"
    assert completed_ok(api, "bob", pending["steps"][0]["id"], {"approved": True})["steps"] == []


def test_database_down_is_503_naming_the_database(api, stack):
    api.token("alice")
    stack.make_database_unreachable()
    for path in ("/api/tickets", "/api/tasks"):
        body = error(api.get(path, "alice"), 503)
        assert body["details"]["dependency"] == "database"
    ready = api.get("/readyz")
    assert ready.status_code == 503 and "database" in ready.json["error"]["message"]


# --- documentation ----------------------------------------------------------------------------

def test_openapi_document_is_valid_and_complete(api):
    from openapi_spec_validator import validate

    spec = api.get("/api/openapi.json").json
    validate(spec)
    paths = spec["paths"]
    for path, methods in {
        "/api/auth/login": {"post"}, "/api/me": {"get"}, "/api/ticket-types": {"get"},
        "/api/tickets": {"get", "post"}, "/api/tickets/{ticket_id}": {"get", "patch", "delete"},
        "/api/tickets/{ticket_id}/submit": {"post"}, "/api/tickets/{ticket_id}/approve": {"post"},
        "/api/tickets/{ticket_id}/reject": {"post"}, "/api/tickets/{ticket_id}/withdraw": {"post"},
        "/api/tickets/{ticket_id}/resubmit": {"post"}, "/api/tickets/{ticket_id}/retry": {"post"},
        "/api/tickets/{ticket_id}/reconcile": {"post"}, "/api/tickets/{ticket_id}/history": {"get"},
        "/api/tickets/{ticket_id}/process": {"get"}, "/api/tasks": {"get"}, "/api/tasks/{task_id}": {"get"},
        "/api/tasks/{task_id}/complete": {"post"}, "/api/approvals": {"get"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert "/api/tickets/{ticket_id}/retry-provisioning" not in paths
    assert paths["/api/auth/login"]["post"]["security"] == []


def test_swagger_ui_is_served_without_a_cdn(api):
    page = api.get("/api/docs")
    assert page.status_code == 200 and b"/api/docs/assets/swagger-ui-bundle.js" in page.data
    assert api.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_routes_are_json_404(api):
    error(api.get("/api/nothing-here", "alice"), 404)
    error(api.post("/api/tickets/x/retry-provisioning", "carol"), 404)  # the older route is gone
