"""Bad input is a 4xx in the API's error shape, the same on every store, and moves nothing.

Found by hand and by fuzzing: each of these answered 500 (or stored what PostgreSQL cannot hold,
so SQLite and PostgreSQL disagreed) before the request schemas checked it.
"""

from __future__ import annotations

import json

import pytest

from tests.api.test_http_api import create, error, submit

RAW_JSON = {"Content-Type": "application/json"}
LIST_ENDPOINTS = [("/api/tickets", "bob"), ("/api/approvals", "bob"), ("/api/notifications", "alice")]


def raw(api, method, path, user, body: str):
    """Send the JSON text ``body`` as it is: json= cannot carry a lone surrogate or a 5 000-digit number."""
    return api.call(method, path, user, data=body.encode(), headers=dict(RAW_JSON))


def test_a_lone_surrogate_in_an_approve_comment_is_422_and_the_ticket_stays_approvable(api, stack):
    t = submit(api)
    body = error(raw(api, "POST", f"/api/tickets/{t['id']}/approve", "bob", '{"comment": "ok \\ud800"}'), 422,
                 "validation_error")
    assert "surrogate" in body["details"]["comment"][0]
    assert api.get(f"/api/tickets/{t['id']}", "bob").json["status"] == "pending_approval"
    ok = api.post(f"/api/tickets/{t['id']}/approve", "bob", json={"comment": "ok"})
    assert ok.status_code == 200 and ok.json["status"] == "approved", ok.json
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert [(h["action"], h["comment"]) for h in history][-1] == ("approved", "ok")


@pytest.mark.parametrize("bad, reason", [(r"\ud800", "surrogate"), (r"\udfff tail", "surrogate"), (r"a\u0000b", "NUL")])
def test_unstorable_text_in_any_body_field_is_422_naming_it(api, bad, reason):
    draft = create(api)
    pending = submit(api, title="Pending")
    cases = [
        ("POST", "/api/auth/login", None, {"username": "BAD", "password": "x"}, "username"),
        ("POST", "/api/auth/login", None, {"username": "bob", "password": "BAD"}, "password"),
        ("POST", "/api/tickets", "alice", {"title": "BAD"}, "title"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "description": "BAD"}, "description"),
        ("POST", "/api/tickets", "alice", {"title": "ok", "priority": "BAD"}, "priority"),
        ("PATCH", f"/api/tickets/{draft['id']}", "alice", {"title": "BAD"}, "title"),
        ("POST", f"/api/tickets/{pending['id']}/reject", "bob", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tickets/{pending['id']}/approve", "bob", {"comment": "BAD"}, "comment"),
        ("POST", f"/api/tickets/{pending['id']}/retry-provisioning", "carol", {"comment": "BAD"}, "comment"),
    ]
    for method, path, user, payload, field in cases:
        text = json.dumps(payload).replace("BAD", bad)  # the escape goes into the JSON text as it is
        body = error(raw(api, method, path, user, text), 422, "validation_error")
        assert reason in body["details"][field][0], (method, path, body)
    assert api.get(f"/api/tickets/{draft['id']}", "alice").json["title"] == "Laptop"
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["status"] == "pending_approval"
    assert api.get("/api/tickets", "alice").json["total"] == 2  # nothing created


@pytest.mark.parametrize("query, field", [("q=a%00b", "q"), ("requester=a%00b", "requester"),
                                          ("status=draft%00", "status")])
def test_nul_in_a_list_filter_is_422_on_every_store(api, query, field):
    create(api)
    body = error(api.get(f"/api/tickets?{query}", "bob"), 422, "validation_error")
    assert "NUL" in body["details"][field][0]


def test_nul_in_a_path_is_404_on_every_store(api):
    t = create(api)
    error(api.get(f"/api/tickets/{t['id']}%00", "alice"), 404, "not_found")
    error(api.post("/api/tickets/a%00b/submit", "alice"), 404, "not_found")
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
    create(api, title="a" * 200)
    body = error(api.get("/api/tickets?q=" + "a" * 50_001, "bob"), 422, "validation_error")
    assert body["details"]["q"] == ["Must be at most 200 characters."]
    assert "/" not in body["message"]  # no server path, nothing about the database
    assert api.get("/api/tickets?q=" + "a" * 200, "bob").json["total"] == 1


DEEP = "[" * 1_000 + "]" * 1_000
HUGE = "9" * 4_301


@pytest.mark.parametrize("payload", [DEEP, '{"title": ' + DEEP + "}", '{"title": "x", "amount": ' + HUGE + "}",
                                     '{"comment": ' + HUGE + "}", '{"username": ' + HUGE + ', "password": "x"}'])
def test_json_too_deep_or_with_a_huge_integer_is_400_on_every_json_endpoint(api, payload):
    draft = create(api)
    pending = submit(api, title="Pending")
    for method, path, user in [("POST", "/api/auth/login", None), ("POST", "/api/tickets", "alice"),
                               ("PATCH", f"/api/tickets/{draft['id']}", "alice"),
                               ("POST", f"/api/tickets/{pending['id']}/approve", "bob"),
                               ("POST", f"/api/tickets/{pending['id']}/reject", "bob"),
                               ("POST", f"/api/tickets/{pending['id']}/retry-provisioning", "carol")]:
        body = error(raw(api, method, path, user, payload), 400, "bad_request")
        assert body["details"]["json"], (method, path, body)
    assert api.get("/api/tickets", "alice").json["total"] == 2
    assert api.get(f"/api/tickets/{pending['id']}", "alice").json["status"] == "pending_approval"


@pytest.mark.parametrize("amount, stored", [(99, "99.00"), (1200.5, "1200.50"), (0.57, "0.57"), ("1200.50", "1200.50"),
                                            ("7", "7.00"), ("", None), (None, None), (999999999999.99, "999999999999.99")])
def test_amounts_as_strings_or_numbers(api, amount, stored):
    assert create(api, amount=amount)["amount"] == stored


@pytest.mark.parametrize("amount", ["1e3", "-5", " 5", "1,200", "0.001", 0.001, -1, True, 1e13, [], {}, "NaN",
                                    10**40])
def test_bad_amounts_are_422_naming_the_amount(api, amount):
    body = error(api.post("/api/tickets", "alice", json={"title": "x", "amount": amount}), 422, "validation_error")
    assert set(body["details"]) == {"amount"}


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE"])
def test_unsupported_methods_are_405_with_allow(api, method):
    t = create(api)
    for path, user, allowed in [("/api/tickets", "alice", {"GET", "POST"}), ("/api/auth/login", None, {"POST"}),
                                (f"/api/tickets/{t['id']}", "alice", {"GET", "PATCH"})]:
        r = api.call(method, path, user)
        error(r, 405, "method_not_allowed")
        assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}, (path, r.headers)


def test_a_missing_body_where_one_is_required_is_422(api):
    t = create(api)
    for method, path, kwargs in [("PATCH", f"/api/tickets/{t['id']}", {}),
                                 ("PATCH", f"/api/tickets/{t['id']}", {"data": "title=x"}),
                                 ("POST", "/api/tickets", {"data": "title=x", "content_type": "text/plain"})]:
        body = error(api.call(method, path, "alice", **kwargs), 422, "validation_error")
        assert "JSON body is required" in body["details"]["json"][0], (method, path, body)
    assert api.get(f"/api/tickets/{t['id']}", "alice").json["version"] == 1
