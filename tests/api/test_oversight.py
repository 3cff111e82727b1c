"""GET /api/stats, /api/incidents and /api/users, and the error keys clients word errors with."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from tests.api.test_http_api import access, create, error, run_automated_step, step_named, submit, ticket
from tests.support import wait_until

BUCKETS = ["lt_1d", "d1_3", "d3_7", "gt_7d"]


def failed_provisioning(api, stack):
    stack.container.provisioner().failing = True
    t = submit(api, title="Server")
    assert api.post(f"/api/tickets/{t['id']}/approve", "bob").status_code == 200
    worker = stack.worker()

    def attention():
        worker.run_once(wait_ms=200)
        return ticket(api, t["id"])["status"] == "needs_attention"

    wait_until(attention, timeout=30, message="the failed step never needed attention")
    return t["id"]


# ---------------------------------------------------------------- /api/stats

def test_the_dashboard_counts_what_the_tickets_recorded(api, stack):
    done = submit(api, title="Done")
    assert api.post(f"/api/tickets/{done['id']}/approve", "bob").status_code == 200
    run_automated_step(stack)
    assert ticket(api, done["id"])["status"] == "completed"
    refused = submit(api, title="Refused")
    r = api.post(f"/api/tickets/{refused['id']}/reject", "bob", json={"comment": "no budget"})
    assert r.status_code == 200 and r.json["status"] == "rejected", r.json
    waiting = submit(api, title="Waiting")
    create(api, title="Draft only")

    r = api.get("/api/stats?weeks=4", "carol")
    assert r.status_code == 200, r.json
    s = r.json
    assert set(s) == {"generated_at", "open_tasks", "cycle_time", "throughput", "rejection_rate", "sla"}
    assert datetime.fromisoformat(s["generated_at"]) <= datetime.now(timezone.utc)
    managers = next(g for g in s["open_tasks"] if g["group"] == "managers")
    assert managers["total"] == 1  # the waiting ticket's manager step
    assert managers["by_age"] == [{"bucket": b, "count": 1 if b == "lt_1d" else 0} for b in BUCKETS]
    ttype = waiting["type"]
    (by_type,) = [c for c in s["cycle_time"]["by_type"] if c["type"] == ttype]
    assert by_type["count"] == 2 and 0 <= by_type["median_s"] <= by_type["p90_s"] < 600
    manager = [c for c in s["cycle_time"]["by_step"] if c["type"] == ttype and c["step"] == "Manager Approval"]
    assert len(manager) == 1 and manager[0]["count"] == 2 and manager[0]["step_id"]
    weeks = s["throughput"]
    assert len(weeks) == 4
    monday = date.today() - timedelta(days=date.today().weekday())
    assert [w["week_start"] for w in weeks] == [(monday - timedelta(weeks=3 - i)).isoformat() for i in range(4)]
    assert weeks[-1] == {"week_start": monday.isoformat(), "created": 4, "completed": 1, "rejected": 1}
    assert all(w["created"] == w["completed"] == w["rejected"] == 0 for w in weeks[:-1])
    rate = s["rejection_rate"]
    assert (rate["decided"], rate["rejected"], rate["rate"]) == (2, 1, 0.5)
    assert rate["by_type"] == [{"type": ttype, "decided": 2, "rejected": 1, "rate": 0.5}]


def test_the_dashboard_is_for_admins_and_group_members(api):
    assert api.get("/api/stats", "bob").status_code == 200  # managers
    assert api.get("/api/stats", "fiona").status_code == 200  # finance
    body = error(api.get("/api/stats", "alice"), 403, "forbidden")
    assert body["key"] == "auth.stats_forbidden"
    body = error(api.get("/api/stats"), 401, "unauthorized")
    assert body["key"] == "auth.login_required"


def test_an_empty_dashboard_has_zero_weeks_and_no_rate(api):
    s = api.get("/api/stats", "carol").json
    assert len(s["throughput"]) == 12 and s["open_tasks"] == []
    assert s["rejection_rate"] == {"decided": 0, "rejected": 0, "rate": None, "by_type": []}
    assert s["cycle_time"] == {"by_type": [], "by_step": []}
    assert s["sla"] == {"with_due": 0, "on_time": 0, "share": None, "open_overdue": 0, "by_type": []}


def test_weeks_out_of_range_name_the_field(api):
    for weeks in ("0", "53", "many"):
        body = error(api.get(f"/api/stats?weeks={weeks}", "carol"), 422, "validation_error")
        assert list(body["fields"]) == ["weeks"]
    body = error(api.get("/api/stats?weeks=0", "carol"), 422)
    assert body["fields"]["weeks"] == [{"key": "field.range", "params": {"min": "1", "max": "52"}}]


# ------------------------------------------------------------ /api/incidents

def test_an_admin_sees_each_failed_step_with_its_error_and_retries_it(api, stack):
    ticket_id = failed_provisioning(api, stack)
    r = api.get("/api/incidents", "carol")
    assert r.status_code == 200, r.json
    assert r.json["total"] == 1
    (item,) = r.json["items"]
    assert set(item) == {"ticket_id", "title", "type", "requester", "step", "step_id", "error", "retries_left",
                         "failed_at"}
    assert (item["ticket_id"], item["title"], item["requester"]) == (ticket_id, "Server", "alice")
    assert item["step"] == "Provision Service" and item["step_id"]
    assert item["error"].startswith("ProvisioningError") and item["error"] == ticket(api, ticket_id, "carol")["attention"]
    assert item["retries_left"] == 0
    assert datetime.fromisoformat(item["failed_at"]) <= datetime.now(timezone.utc)
    stack.container.provisioner().failing = False
    assert api.post(f"/api/tickets/{ticket_id}/retry", "carol").status_code == 200
    assert api.get("/api/incidents", "carol").json == {"items": [], "total": 0}


def test_incidents_and_users_are_for_admins_only(api):
    for path in ("/api/incidents", "/api/users"):
        for user in ("alice", "bob"):
            body = error(api.get(path, user), 403, "forbidden")
            assert body["key"] == "auth.admins_only"
        assert error(api.get(path), 401)["key"] == "auth.login_required"


def test_the_requester_never_reads_the_exception_text(api, stack):
    ticket_id = failed_provisioning(api, stack)
    stack.deliver_events()
    seen = [api.get(f"/api/tickets/{ticket_id}", "alice").json,
            api.get(f"/api/tickets/{ticket_id}/history", "alice").json,
            api.get("/api/notifications", "alice").json,
            api.get("/api/tickets", "alice").json,
            api.get(f"/api/tickets/{ticket_id}", "bob").json]
    text = json.dumps(seen)
    assert "ProvisioningError" not in text and "Traceback" not in text
    assert seen[0]["attention"] == "step_failed" and seen[0]["attention_key"] == "attention.step_failed"
    admin = json.dumps([api.get(f"/api/tickets/{ticket_id}", "carol").json,
                        api.get("/api/notifications", "carol").json])
    assert "ProvisioningError" in admin


# ---------------------------------------------------------------- /api/users

def test_an_admin_reads_the_users_and_groups(api):
    r = api.get("/api/users", "carol")
    assert r.status_code == 200, r.json
    users = {u["username"]: u for u in r.json["users"]}
    assert [u["username"] for u in r.json["users"]] == sorted(users)
    assert users["bob"] == {"username": "bob", "name": "Bob", "roles": ["manager"], "groups": ["managers"]}
    assert users["carol"]["roles"] == ["admin"]
    groups = {g["name"]: g["members"] for g in r.json["groups"]}
    assert {"bob", "dave"} <= set(groups["managers"]) and "fiona" in groups["finance"]
    assert [g["name"] for g in r.json["groups"]] == sorted(groups)
    # the groups are the users' groups, seen from the other side
    assert groups == {name: sorted(u for u, user in users.items() if name in user["groups"]) for name in groups}
    assert {g for user in users.values() for g in user["groups"]} == set(groups)


# ---------------------------------------------------------------- error keys

def test_a_failed_login_has_its_key(api):
    r = api.client.post("/api/auth/login", json={"username": "alice", "password": "wrong"})
    body = error(r, 401, "unauthorized")
    assert (body["key"], body["params"]) == ("auth.login_failed", {})
    assert body["message"] == "Wrong username or password."


def test_a_ticket_past_draft_is_not_editable(api):
    t = submit(api)
    body = error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "New"}), 409, "invalid_transition")
    assert (body["key"], body["params"]) == ("ticket.not_editable", {"status": "in_progress"})
    assert body["details"] == {"status": "in_progress", "action": "edit"}


def test_separation_of_duties_refusal_has_its_key(api):
    t = submit(api, "bob", title="My own")
    body = error(api.post(f"/api/tickets/{t['id']}/approve", "bob"), 403, "forbidden")
    assert (body["key"], body["params"]) == ("step.refused.own_ticket", {})
    assert body["details"] == {"reason": "own_ticket"}
    step = t["steps"][0]
    body = error(api.post(f"/api/tasks/{step['id']}/complete", "bob", json={"variables": {}}), 403)
    assert body["key"] == "step.refused.own_ticket"


def test_a_stale_edit_is_a_conflict_with_both_versions(api):
    t = create(api)
    assert api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Two", "version": 1}).status_code == 200
    body = error(api.patch(f"/api/tickets/{t['id']}", "alice", json={"title": "Three", "version": 1}), 409, "conflict")
    assert (body["key"], body["params"]) == ("ticket.changed", {"version": 2, "expected": 1})


def test_a_step_completed_twice_names_who_did_it(api):
    t = access(api)
    task_id = step_named(t, "Manager Approval")["id"]
    body = {"variables": {"manager_decision": "approve"}}
    assert api.post(f"/api/tasks/{task_id}/complete", "bob", json=body).status_code == 200
    r = api.post(f"/api/tasks/{task_id}/complete", "dave", json=body)
    err = error(r, 409, "conflict")
    assert (err["key"], err["params"]) == ("step.already_completed_by", {"by": "bob"})


def test_field_errors_carry_keys_by_field(api):
    body = error(api.post("/api/tickets", "alice", json={"title": "x" * 201}), 422, "validation_error")
    assert body["fields"]["title"] == [{"key": "field.max_length", "params": {"max": "200"}}]
    assert body["details"]["title"] == ["Must be at most 200 characters."]
    assert body["key"] == "validation.invalid"
    body = error(api.post("/api/tickets", "alice", json={"fields": {}}), 422)
    assert body["fields"]["title"] == [{"key": "field.required", "params": {}}]
    # the ticket type's JSON Schema: a required field and a value out of its enum
    body = error(api.post("/api/tickets", "alice", json={"type": "access_request", "title": "Access",
                                                         "fields": {"access_level": "root"}}), 422)
    assert body["fields"]["system"] == [{"key": "field.required", "params": {}}]
    (level,) = body["fields"]["access_level"]
    assert level["key"] == "field.one_of" and "read" in level["params"]["choices"]
    assert body["details"]["system"] == ["This field is required."]


def test_a_step_form_error_carries_keys_by_field(api):
    t = access(api)
    task_id = step_named(t, "Manager Approval")["id"]
    body = error(api.post(f"/api/tasks/{task_id}/complete", "bob", json={"variables": {"nope": 1}}), 422)
    assert body["key"] == "step.invalid_values"
    assert body["fields"]["nope"] == [{"key": "field.unknown", "params": {}}]
    assert {"key": "field.required", "params": {}} in body["fields"]["manager_decision"]


def test_an_unknown_ticket_and_route_have_keys(api):
    body = error(api.get("/api/tickets/nope", "alice"), 404, "not_found")
    assert (body["key"], body["params"]) == ("ticket.not_found", {"id": "nope"})
    assert error(api.get("/api/nothing-here", "alice"), 404)["key"] == "http.not_found"
