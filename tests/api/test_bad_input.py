"""Bad input is a 4xx in the API's error shape, the same on every store, and moves nothing.

Found by hand and by fuzzing: each of these answered 500 (or stored what PostgreSQL cannot hold,
so SQLite and PostgreSQL disagreed) before the request schemas checked it.
"""

from __future__ import annotations

import json

import pytest

from tests.api.test_http_api import actions, create, error, submit

RAW_JSON = {"Content-Type": "application/json"}
LIST_ENDPOINTS = [("/api/tickets", "bob"), ("/api/approvals", "bob"), ("/api/tasks", "bob"),
                  ("/api/notifications", "alice")]


def raw(api, method, path, user, body: str):
    """Send the JSON text ``body`` as it is: json= cannot carry a lone surrogate or a 5 000-digit number."""
    return api.call(method, path, user, data=body.encode(), headers=dict(RAW_JSON))


def test_a_lone_surrogate_in_an_approve_comment_is_422_and_the_ticket_stays_approvable(api, stack):
    t = submit(api)
    body = error(raw(api, "POST", f"/api/tickets/{t['id']}/approve", "bob", '{"comment": "ok \\ud800"}'), 422,
                 "validation_error")
    assert "surrogate" in body["details"]["comment"][0]
    body = error(raw(api, "POST", f"/api/tasks/{t['steps'][0]['id']}/complete", "bob",
                     '{"variables": {"approved": true}, "comment": "ok \\ud800"}'), 422, "validation_error")
    assert "surrogate" in body["details"]["comment"][0]
    assert api.get(f"/api/tickets/{t['id']}", "bob").json["current_steps"] == ["Manager Approval"]
    ok = api.post(f"/api/tickets/{t['id']}/approve", "bob", json={"comment": "ok"})
    assert ok.status_code == 200 and ok.json["steps"] == [], ok.json
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert [(h["action"], h["comment"]) for h in history if h["action"] == "step_completed"] == \
        [("step_completed", "ok")]


def messages_for(body, field):
    """The messages for one field: details keyed by the field itself (the form field's or the ticket field's
    name), a list of texts, as every 422 of the API gives them."""
    messages = body["details"][field]
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), body
    return messages


@pytest.mark.parametrize("bad, reason", [(r"\ud800", "surrogate"), (r"\udfff tail", "surrogate"), (r"a\u0000b", "NUL")])
def test_unstorable_text_in_any_body_field_is_422_naming_it(api, stack, bad, reason):
    draft = create(api)
    pending = submit(api, title="Pending")
    task = pending["steps"][0]["id"]
    contract = submit(api, type="contract_review", title="NDA")
    legal = contract["steps"][0]["id"]
    cases = [
        ("POST", "/api/auth/login", None, {"username": "BAD", "password": "x"}, "username"),
        ("POST", "/api/auth/login", None, {"username": "bob", "password": "BAD"}, "password"),
        ("POST", "/api/tickets", "alice", {"title": "BAD"}, "title"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "description": "BAD"}, "description"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "priority": "BAD"}, "priority"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "type": "BAD"}, "type"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "fields": {"description": "BAD"}}, "description"),
        ("POST", "/api/tickets", "alice", {"type": "purchase_request", "title": "ok",
                                           "fields": {"amount": 5, "supplier": "BAD"}}, "supplier"),
        ("PATCH", f"/api/tickets/{draft['id']}", "alice", {"title": "BAD"}, "title"),
        ("PATCH", f"/api/tickets/{draft['id']}", "alice", {"fields": {"description": "BAD"}}, "description"),
        ("POST", f"/api/tickets/{pending['id']}/reject", "bob", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tickets/{pending['id']}/approve", "bob", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tickets/{pending['id']}/withdraw", "alice", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tickets/{pending['id']}/retry", "carol", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tasks/{task}/complete", "bob", {"variables": {"approved": True}, "comment": "BAD"},
         "comment"),
        ("POST", f"/api/tasks/{legal}/complete", "pat", {"variables": {"legal_ok": "BAD"}}, "legal_ok"),
    ]
    for method, path, user, payload, field in cases:
        text = json.dumps(payload).replace("BAD", bad)  # the escape goes into the JSON text as it is
        body = error(raw(api, method, path, user, text), 422, "validation_error")
        assert reason in messages_for(body, field)[0], (method, path, body)
    assert api.get(f"/api/tickets/{draft['id']}", "alice").json["title"] == "Laptop"
    assert api.get(f"/api/tickets/{draft['id']}", "alice").json["fields"] == {"priority": "normal"}
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["current_steps"] == ["Manager Approval"]
    assert api.get(f"/api/tickets/{contract['id']}", "alice").json["current_steps"] == ["Legal Review"]
    assert api.get("/api/tickets", "alice").json["total"] == 3  # nothing created
    assert "step_completed" not in actions(api.get(f"/api/tickets/{pending['id']}/history", "alice").json)


@pytest.mark.parametrize("path, query, field", [
    ("/api/tickets", "q=a%00b", "q"), ("/api/tickets", "requester=a%00b", "requester"),
    ("/api/tickets", "status=draft%00", "status"), ("/api/tickets", "type=it%00", "type"),
    ("/api/tasks", "q=a%00b", "q"), ("/api/tasks", "type=it%00", "type"), ("/api/tasks", "group=a%00", "group"),
    ("/api/tasks", "step=a%00", "step"), ("/api/tasks", "status=in_progress%00", "status")])
def test_nul_in_a_list_filter_is_422_on_every_store(api, path, query, field):
    create(api)
    body = error(api.get(f"{path}?{query}", "bob"), 422, "validation_error")
    assert "NUL" in body["details"][field][0]


def test_nul_in_a_path_is_404_on_every_store(api):
    t = create(api)
    error(api.get(f"/api/tickets/{t['id']}%00", "alice"), 404, "not_found")
    error(api.post("/api/tickets/a%00b/submit", "alice"), 404, "not_found")
    error(api.call("DELETE", f"/api/tickets/{t['id']}%00", "alice"), 404, "not_found")
    error(api.get("/api/tasks/a%00b", "bob"), 404, "not_found")
    error(api.post("/api/tasks/a%00b/complete", "bob", json={"variables": {}}), 404, "not_found")
    error(api.post("/api/notifications/a%00b/read", "bob"), 404, "not_found")


@pytest.mark.parametrize("path, user", LIST_ENDPOINTS)
def test_pages_out_of_range_are_422_stating_the_limits(api, path, user):
    create(api)
    for query, field, limit in [(f"page={2**63 - 1}", "page", "100000"), (f"page={10**30}", "page", "100000"),
                                ("page=0", "page", "100000"), (f"page_size={2**63 - 1}", "page_size", "100"),
                                ("page_size=0", "page_size", "100"), ("page=100000&page_size=100", None, None)]:
        r = api.get(f"{path}?{query}", user)
        if field is None:  # the last page there is: empty, not an error
            assert r.status_code == 200 and r.json["items"] == [], (query, r.json)
            continue
        body = error(r, 422, "validation_error")
        assert body["details"][field] == [f"Must be between 1 and {limit}."], (query, body)


def test_a_search_text_over_the_maximum_is_422_saying_the_maximum(api):
    t = submit(api, title="a" * 200)
    for path in ("/api/tickets", "/api/tasks"):
        body = error(api.get(f"{path}?q=" + "a" * 50_001, "bob"), 422, "validation_error")
        assert body["details"]["q"] == ["Must be at most 200 characters."]
        assert "/" not in body["message"]  # no server path, nothing about the database
    assert api.get("/api/tickets?q=" + "a" * 200, "bob").json["total"] == 1
    assert [i["ticket"]["id"] for i in api.get("/api/tasks?q=" + "a" * 200, "bob").json["items"]] == [t["id"]]


DEEP = "[" * 1_000 + "]" * 1_000
HUGE = "9" * 4_301


@pytest.mark.parametrize("payload", [DEEP, '{"title": ' + DEEP + "}", '{"title": "x", "amount": ' + HUGE + "}",
                                     '{"title": "x", "fields": {"amount": ' + HUGE + "}}",
                                     '{"title": "x", "fields": ' + DEEP + "}",
                                     '{"variables": {"approved": ' + HUGE + "}}", '{"variables": ' + DEEP + "}",
                                     '{"comment": ' + HUGE + "}", '{"username": ' + HUGE + ', "password": "x"}'])
def test_json_too_deep_or_with_a_huge_integer_is_400_on_every_json_endpoint(api, payload):
    draft = create(api)
    pending = submit(api, title="Pending")
    task = pending["steps"][0]["id"]
    for method, path, user in [("POST", "/api/auth/login", None), ("POST", "/api/tickets", "alice"),
                               ("PATCH", f"/api/tickets/{draft['id']}", "alice"),
                               ("POST", f"/api/tickets/{pending['id']}/approve", "bob"),
                               ("POST", f"/api/tickets/{pending['id']}/reject", "bob"),
                               ("POST", f"/api/tickets/{pending['id']}/withdraw", "alice"),
                               ("POST", f"/api/tickets/{pending['id']}/retry", "carol"),
                               ("POST", f"/api/tasks/{task}/complete", "bob")]:
        body = error(raw(api, method, path, user, payload), 400, "bad_request")
        assert body["details"]["json"], (method, path, body)
    assert api.get("/api/tickets", "alice").json["total"] == 2
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["current_steps"] == ["Manager Approval"]
    assert api.get(f"/api/tickets/{draft['id']}", "alice").json["version"] == 1


@pytest.mark.parametrize("value", [10**40, 2**63, -(2**63) - 1, 1e308])
def test_huge_numbers_in_fields_and_variables_are_422_naming_the_field(api, value):
    body = error(api.post("/api/tickets", "alice", json={"title": "x", "fields": {"amount": value}}), 422)
    assert messages_for(body, "amount")
    body = error(api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": "x",
                                                         "fields": {"amount": value, "supplier": "ACME"}}), 422)
    assert messages_for(body, "amount")
    pending = submit(api, title="Pending")
    body = error(api.post(f"/api/tasks/{pending['steps'][0]['id']}/complete", "bob",
                          json={"variables": {"approved": value}}), 422)
    assert messages_for(body, "approved")
    assert api.get("/api/tickets", "alice").json["total"] == 1


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], [[[]]]])
def test_nested_values_in_fields_and_variables_are_422(api, value):
    body = error(api.post("/api/tickets", "alice", json={"title": "x", "fields": {"description": value}}), 422)
    assert messages_for(body, "description")
    pending = submit(api, title="Pending")
    body = error(api.post(f"/api/tasks/{pending['steps'][0]['id']}/complete", "bob",
                          json={"variables": {"approved": value}}), 422)
    assert messages_for(body, "approved")
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["current_steps"] == ["Manager Approval"]


@pytest.mark.parametrize("amount, stored", [(99, 99), (1200.5, 1200.5), (0.57, 0.57), ("1200.50", 1200.5),
                                            ("7", 7), (999999999999.99, 999999999999.99), (0.001, 0.001)])
def test_amounts_as_strings_or_numbers(api, amount, stored):
    assert create(api, amount=amount)["fields"]["amount"] == stored
    if not isinstance(amount, str):
        assert create(api, fields={"amount": amount})["fields"]["amount"] == stored


@pytest.mark.parametrize("amount", ["", None])
def test_an_empty_amount_is_no_amount(api, amount):
    assert "amount" not in create(api, amount=amount)["fields"]
    assert "amount" not in create(api, fields={"amount": amount})["fields"]


@pytest.mark.parametrize("amount", ["1e3", "-5", " 5", "1,200", "0.001", -1, True, 1e13, [], {}, "NaN", 10**40])
def test_bad_amounts_are_422_naming_the_amount(api, amount):
    body = error(api.post("/api/tickets", "alice", json={"title": "x", "amount": amount}), 422, "validation_error")
    assert set(body["details"]) == {"amount"}


@pytest.mark.parametrize("amount", ["1200", -1, True, 1e13, 10**40, "NaN"])
def test_bad_amounts_in_fields_are_422_naming_the_amount(api, amount):
    body = error(api.post("/api/tickets", "alice", json={"title": "x", "fields": {"amount": amount}}), 422,
                 "validation_error")
    assert set(body["details"]) == {"amount"}
    assert api.get("/api/tickets", "alice").json["total"] == 0


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE"])
def test_unsupported_methods_are_405_with_allow(api, method):
    t = create(api)
    routes = [("/api/tickets", "alice", {"GET", "POST"}), ("/api/auth/login", None, {"POST"}),
              ("/api/tasks", "bob", {"GET"}), ("/api/ticket-types", "alice", {"GET"})]
    if method != "DELETE":  # a draft can be deleted
        routes.append((f"/api/tickets/{t['id']}", "alice", {"GET", "PATCH", "DELETE"}))
    for path, user, allowed in routes:
        r = api.call(method, path, user)
        error(r, 405, "method_not_allowed")
        assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}, (path, r.headers)
    assert api.get(f"/api/tickets/{t['id']}", "alice").status_code == 200


def test_a_missing_body_where_one_is_required_is_422(api):
    t = create(api)
    pending = submit(api, title="Pending")
    task = pending["steps"][0]["id"]
    for method, path, kwargs in [("PATCH", f"/api/tickets/{t['id']}", {}),
                                 ("PATCH", f"/api/tickets/{t['id']}", {"data": "title=x"}),
                                 ("POST", "/api/tickets", {"data": "title=x", "content_type": "text/plain"}),
                                 ("POST", f"/api/tasks/{task}/complete", {}),
                                 ("POST", f"/api/tasks/{task}/complete", {"data": "approved=true"})]:
        user = "bob" if "/tasks/" in path else "alice"
        body = error(api.call(method, path, user, **kwargs), 422, "validation_error")
        assert "JSON body is required" in body["details"]["json"][0], (method, path, body)
    assert api.get(f"/api/tickets/{t['id']}", "alice").json["version"] == 1
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["current_steps"] == ["Manager Approval"]
