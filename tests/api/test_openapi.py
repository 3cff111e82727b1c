"""/api/openapi.json describes the API as it answers: error shape, types, limits, unknown fields."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.api.test_http_api import access, create, error, purchase, submit

LISTS = {"/api/tickets": "bob", "/api/approvals": "bob", "/api/tasks": "bob", "/api/notifications": "alice"}
BODIES = {"Login", "TicketInput", "TicketUpdate", "Comment", "Reject", "CompleteTask"}


@pytest.fixture
def spec(api):
    document = api.get("/api/openapi.json").json
    validate(document)
    return document


def conforms(spec, name: str, instance) -> list[str]:
    """The messages of every way ``instance`` breaks the document's schema ``name`` (none: it conforms)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return [e.message for e in OAS30Validator(schema).iter_errors(instance)]


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                yield path, method, operation


def test_every_error_response_declares_the_error_body_the_api_sends(api, spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["properties"] == {"error": {"$ref": "#/components/schemas/ErrorBody"}}
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "details", "key", "params", "fields"}
    assert schemas["ErrorBody"]["properties"]["code"]["type"] == "string"
    responses = spec["components"]["responses"]
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) or status == "default":
                ref = response.get("$ref")
                body = responses[ref.rsplit("/", 1)[1]] if ref else response
                schema = body["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status, schema)
    for r in (api.get("/api/tickets/nope", "bob"), api.get("/api/tickets?page=0", "bob"), api.get("/api/me"),
              api.post("/api/tickets", "alice", json={"title": "x", "colour": "red"}),
              api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "x", "fields": {}}),
              api.get("/api/tasks?sort=title", "bob"), api.post("/api/tasks/nope/complete", "bob", json={})):
        assert conforms(spec, "Error", r.json) == [], r.json


def test_tickets_steps_tasks_and_types_conform_to_their_declared_schemas(api, spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["Ticket"]["properties"]) >= {"id", "type", "type_name", "title", "fields", "requester",
                                                     "status", "current_steps", "attention", "created_at",
                                                     "updated_at", "version", "steps", "allowed_actions"}
    assert "amount" not in schemas["Ticket"]["properties"]  # the default type's fields live in fields
    assert schemas["Ticket"]["properties"]["fields"]["type"] == "object"
    assert set(schemas["Ticket"]["properties"]["status"]["enum"]) == {
        "draft", "in_progress", "needs_attention", "completed", "rejected", "withdrawn"}
    assert set(schemas["Step"]["properties"]) == {"id", "step", "name", "candidate_groups", "candidate_users",
                                                   "assignee", "due", "overdue", "created_at", "form",
                                                   "can_complete", "refusal", "on_behalf_of", "can_claim",
                                                   "can_unclaim"}
    assert set(schemas["FormField"]["properties"]) == {"id", "label", "type", "required", "default", "values",
                                                        "decision"}
    assert set(schemas["Task"]["properties"]) == set(schemas["Step"]["properties"]) | {"ticket"}
    draft = create(api, amount="1200.5")
    it = submit(api, title="IT")
    big = purchase(api, 5000)
    both = access(api)
    for t in (draft, it, big, both):
        assert conforms(spec, "Ticket", api.get(f"/api/tickets/{t['id']}", "bob").json) == [], t
    assert conforms(spec, "Ticket", {**draft, "status": "pending_approval"})  # an old status breaks the document
    assert conforms(spec, "TicketPage", api.get("/api/tickets", "bob").json) == []
    tasks = api.get("/api/tasks", "bob").json
    assert tasks["total"] == 3 and conforms(spec, "TaskPage", tasks) == []
    assert conforms(spec, "Task", api.get(f"/api/tasks/{tasks['items'][0]['id']}", "bob").json) == []
    assert conforms(spec, "TicketPage", api.get("/api/approvals", "bob").json) == []
    types = api.get("/api/ticket-types", "alice").json
    assert types and all(conforms(spec, "TicketType", t) == [] for t in types)
    for entry in api.get(f"/api/tickets/{it['id']}/history", "alice").json:
        assert conforms(spec, "HistoryEntry", entry) == [], entry
    assert conforms(spec, "Process", api.get(f"/api/tickets/{both['id']}/process", "alice").json) == []


def test_the_new_operations_declare_their_bodies_and_errors(spec):
    paths = spec["paths"]
    complete = paths["/api/tasks/{task_id}/complete"]["post"]
    body = complete["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CompleteTask"}
    assert set(complete["responses"]) >= {"200", "400", "401", "403", "404", "409", "503"}
    assert set(paths["/api/tickets/{ticket_id}"]["delete"]["responses"]) >= {"204", "401", "403", "404", "409"}
    assert "201" in paths["/api/tickets/{ticket_id}/resubmit"]["post"]["responses"]
    task_args = {p["name"]: p["schema"] for p in paths["/api/tasks"]["get"]["parameters"]}
    assert {"type", "group", "step", "status", "q", "sort", "page", "page_size"} <= set(task_args)
    assert set(task_args["sort"]["enum"]) == {"created", "-created", "due", "-due"}
    ticket_args = {p["name"]: p["schema"] for p in paths["/api/tickets"]["get"]["parameters"]}
    assert {"status", "type", "requester", "q", "sort", "page", "page_size"} <= set(ticket_args)
    assert set(ticket_args["sort"]["enum"]) == {"created", "-created", "updated", "-updated", "title", "-title"}


def test_page_limits_are_declared_and_enforced(api, spec):
    for path, user in LISTS.items():
        params = {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"]}
        for name in ("page", "page_size"):
            assert params[name]["minimum"] == 1, (path, name)
            maximum = params[name]["maximum"]
            assert api.get(f"{path}?{name}={maximum}", user).status_code == 200
            error(api.get(f"{path}?{name}={maximum + 1}", user), 422)
    q = {p["name"]: p["schema"] for p in spec["paths"]["/api/tickets"]["get"]["parameters"]}["q"]
    error(api.get("/api/tickets?q=" + "x" * (q["maxLength"] + 1), "bob"), 422)


def test_request_bodies_declare_and_enforce_no_unknown_fields(api, spec):
    schemas = spec["components"]["schemas"]
    for name in BODIES:
        assert schemas[name]["additionalProperties"] is False, name
    draft = create(api)
    pending = submit(api, title="Pending")
    for method, path, user, body in [
        ("POST", "/api/auth/login", None, {"username": "bob", "password": "bob", "remember": True}),
        ("POST", "/api/tickets", "alice", {"title": "x", "colour": "red"}),
        ("PATCH", f"/api/tickets/{draft['id']}", "alice", {"colour": "red"}),
        ("POST", f"/api/tickets/{pending['id']}/approve", "bob", {"comment": "ok", "colour": "red"}),
        ("POST", f"/api/tickets/{pending['id']}/reject", "bob", {"comment": "no", "colour": "red"}),
        ("POST", f"/api/tickets/{pending['id']}/withdraw", "alice", {"colour": "red"}),
        ("POST", f"/api/tasks/{pending['steps'][0]['id']}/complete", "bob",
         {"variables": {"approved": True}, "colour": "red"}),
    ]:
        body = error(api.call(method, path, user, json=body), 422, "validation_error")
        assert body["details"]["colour" if "colour" in body["details"] else "remember"] == ["Unknown field."]
    assert api.get(f"/api/tickets/{pending['id']}", "bob").json["current_steps"] == ["Manager Approval"]
    assert api.get(f"/api/tickets/{pending['id']}", "bob").json["status"] == "in_progress"


def test_declared_string_limits_hold(api, spec):
    ticket_input = spec["components"]["schemas"]["TicketInput"]["properties"]
    title_max = ticket_input["title"]["maxLength"]
    assert create(api, title="t" * title_max)["title"] == "t" * title_max
    body = error(api.post("/api/tickets", "alice", json={"title": "t" * (title_max + 1)}), 422)
    assert body["details"]["title"] == [f"Must be at most {title_max} characters."]
    assert re.fullmatch(ticket_input["title"]["pattern"], "  ") is None  # blank titles are declared invalid
    assert "title" in error(api.post("/api/tickets", "alice", json={"title": "  "}), 422)["details"]
