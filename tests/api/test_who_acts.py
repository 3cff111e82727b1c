"""Who acts, through the API on every stack (Camunda included): claim and unclaim a group's step, an admin's
reassignment, and a substitute who decides for someone away, recorded on behalf of them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.api.test_http_api import actions, error, inbox, purchase, ticket


def _iso(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat()


def test_claim_unclaim_and_reassign_a_group_step(api):
    t = purchase(api, 5000)
    [step] = t["steps"]
    task = step["id"]
    bobs = [s for s in api.get(f"/api/tickets/{t['id']}", "bob").json["steps"]]
    assert bobs[0]["can_claim"] and not bobs[0]["can_unclaim"]
    r = api.post(f"/api/tasks/{task}/claim", "bob")
    assert r.status_code == 200, r.json
    [held] = r.json["steps"]
    assert held["assignee"] == "bob" and held["can_unclaim"] and not held["can_claim"] and held["can_complete"]
    assert task not in [i["id"] for i in inbox(api, "dave")["items"]]
    body = error(api.post(f"/api/tasks/{task}/claim", "dave"), 409, "conflict")
    assert (body["key"], body["params"]) == ("task.claimed_by", {"by": "bob"})
    [seen_by_dave] = ticket(api, t["id"], "dave")["steps"]
    assert not seen_by_dave["can_claim"] and not seen_by_dave["can_complete"]
    assert error(api.post(f"/api/tasks/{task}/unclaim", "dave"), 403)["key"] == "task.not_yours"
    r = api.post(f"/api/tasks/{task}/unclaim", "bob")
    assert r.status_code == 200 and r.json["steps"][0]["assignee"] is None
    assert task in [i["id"] for i in inbox(api, "dave")["items"]]

    assert error(api.put(f"/api/tasks/{task}/assignee", "bob", json={"assignee": "dave"}), 403)["key"] == \
        "task.reassign_admin_only"
    bad = error(api.put(f"/api/tasks/{task}/assignee", "carol", json={"assignee": "nobody"}), 422)
    assert bad["fields"]["assignee"][0]["key"] == "field.unknown_user"
    own = error(api.put(f"/api/tasks/{task}/assignee", "carol", json={"assignee": "alice"}), 422)
    assert own["fields"]["assignee"][0]["key"] == "field.separation_of_duties"
    r = api.put(f"/api/tasks/{task}/assignee", "carol", json={"assignee": "dave"})
    assert r.status_code == 200 and r.json["steps"][0]["assignee"] == "dave"
    r = api.post(f"/api/tasks/{task}/complete", "dave", json={"variables": {"manager_decision": "approve"}})
    assert r.status_code == 200, r.json
    history = api.get(f"/api/tickets/{t['id']}/history", "alice").json
    assert ["step_claimed", "step_unclaimed", "step_reassigned", "step_completed"] == [
        a for a in actions(history) if a.startswith("step_") and a != "step_results"]
    assert error(api.post(f"/api/tasks/{task}/claim", "bob"), 409)["key"].startswith("step.already_completed")


def test_a_substitute_decides_on_behalf_of_whom_they_stand_in_for(api):
    t = purchase(api, 5000)
    task = t["steps"][0]["id"]
    r = api.get("/api/me/substitute", "bob")
    assert r.status_code == 200 and r.json == {"substitute": None, "standing_in_for": []}
    r = api.put("/api/me/substitute", "bob", json={"substitute": "erin", "ends": _iso(timedelta(days=2))})
    assert r.status_code == 200, r.json
    assert r.json["substitute"]["substitute"] == "erin" and r.json["substitute"]["active"]
    assert [s["user"] for s in api.get("/api/me/substitute", "erin").json["standing_in_for"]] == ["bob"]
    [item] = [i for i in inbox(api, "erin")["items"] if i["id"] == task]
    assert item["on_behalf_of"] == "bob" and item["can_complete"]
    r = api.post(f"/api/tickets/{t['id']}/approve", "erin", json={"comment": "for Bob"})
    assert r.status_code == 200, r.json
    done = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_completed"]
    assert (done[0]["actor"], done[0]["details"]["on_behalf_of"]) == ("erin", "bob")
    assert api.delete("/api/me/substitute", "bob").status_code == 204
    assert api.get("/api/me/substitute", "bob").json["substitute"] is None


def test_a_substitute_is_refused_naming_the_field(api):
    cases = [
        ({"substitute": "bob", "ends": _iso(timedelta(days=1))}, "substitute", "field.own_substitute"),
        ({"substitute": "nobody", "ends": _iso(timedelta(days=1))}, "substitute", "field.unknown_user"),
        ({"substitute": "erin", "starts": _iso(timedelta(days=2)), "ends": _iso(timedelta(days=1))}, "ends",
         "field.after_start"),
        ({"substitute": "erin", "ends": _iso(timedelta(days=-1))}, "ends", "field.future"),
        ({"substitute": "erin", "ends": "2030-01-01T10:00:00"}, "ends", "field.time_zone"),
        ({"substitute": "erin", "ends": "soon"}, "ends", "field.datetime"),
        ({"substitute": "erin"}, "ends", "field.required"),
    ]
    for body, field, key in cases:
        refused = error(api.put("/api/me/substitute", "bob", json=body), 422)
        assert [f["key"] for f in refused["fields"][field]] == [key], (body, refused)
    assert api.get("/api/me/substitute", "bob").json["substitute"] is None


def test_a_substitute_decides_a_step_held_for_whom_they_stand_in_for(api):
    t = purchase(api, 5000)
    task = t["steps"][0]["id"]
    assert api.post(f"/api/tasks/{task}/claim", "bob").status_code == 200
    r = api.put("/api/me/substitute", "bob", json={"substitute": "erin", "ends": _iso(timedelta(days=1))})
    assert r.status_code == 200, r.json
    [mine] = ticket(api, t["id"], "erin")["steps"]
    assert mine["on_behalf_of"] == "bob" and mine["can_complete"] and mine["can_unclaim"]
    r = api.post(f"/api/tasks/{task}/complete", "erin", json={"variables": {"manager_decision": "approve"}})
    assert r.status_code == 200, r.json
    assert [s["name"] for s in r.json["steps"]] == ["Finance Approval"]
    done = [h for h in api.get(f"/api/tickets/{t['id']}/history", "alice").json if h["action"] == "step_completed"]
    assert [(h["actor"], h["details"]["on_behalf_of"]) for h in done] == [("erin", "bob")]
