"""/api/openapi.json describes the API as it answers: error shape, types, limits, unknown fields."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.api.test_http_api import create, error, submit

LISTS = {"/api/tickets": "bob", "/api/approvals": "bob", "/api/notifications": "alice"}
BODIES = {"Login", "TicketInput", "TicketUpdate", "Comment", "Reject"}


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
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "details"}
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
              api.post("/api/tickets", "alice", json={"title": "x", "colour": "red"})):
        assert conforms(spec, "Error", r.json) == [], r.json


def test_amount_is_declared_a_decimal_string_as_returned(api, spec):
    amount = spec["components"]["schemas"]["Ticket"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["nullable"] is True
    for value in ("1200.5", 99, None):
        ticket = create(api, amount=value)
        assert conforms(spec, "Ticket", ticket) == [], ticket
        assert ticket["amount"] is None or re.fullmatch(amount["pattern"], ticket["amount"])
    assert conforms(spec, "Ticket", {**ticket, "amount": 1200.5})  # a number would break the document


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
    ]:
        body = error(api.call(method, path, user, json=body), 422, "validation_error")
        assert body["details"]["colour" if "colour" in body["details"] else "remember"] == ["Unknown field."]
    assert api.get(f"/api/tickets/{pending['id']}", "bob").json["status"] == "pending_approval"


def test_declared_string_limits_hold(api, spec):
    ticket_input = spec["components"]["schemas"]["TicketInput"]["properties"]
    title_max = ticket_input["title"]["maxLength"]
    assert create(api, title="t" * title_max)["title"] == "t" * title_max
    body = error(api.post("/api/tickets", "alice", json={"title": "t" * (title_max + 1)}), 422)
    assert body["details"]["title"] == [f"Must be at most {title_max} characters."]
    assert re.fullmatch(ticket_input["title"]["pattern"], "  ") is None  # blank titles are declared invalid
    assert "title" in error(api.post("/api/tickets", "alice", json={"title": "  "}), 422)["details"]
