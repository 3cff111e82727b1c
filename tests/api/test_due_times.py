"""Due times through the API: steps and tasks carry ``due`` and ``overdue``, ``GET /api/tasks?overdue=``, the
dashboard's SLA, and reminders reaching the people who may act. Time moves through the container's clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from dependency_injector import providers

from tests.api.test_http_api import error, inbox, purchase, step_named, submit, ticket


@pytest.fixture
def clock(stack):
    moment = {"now": datetime.now(timezone.utc)}
    stack.container.clock.override(providers.Object(lambda: moment["now"]))
    yield moment
    stack.container.clock.reset_override()


def _due(step):
    return datetime.fromisoformat(step["due"].replace("Z", "+00:00"))


def test_a_step_and_its_task_show_the_due_time_and_whether_it_is_overdue(api, clock):
    t = purchase(api, 5000)
    step = step_named(ticket(api, t["id"]), "Manager Approval")
    created = datetime.fromisoformat(step["created_at"].replace("Z", "+00:00"))
    assert abs(_due(step) - created - timedelta(hours=48)) < timedelta(seconds=1)  # the type's default
    assert step["overdue"] is False
    (task,) = [i for i in inbox(api, "bob")["items"] if i["ticket"]["id"] == t["id"]]
    assert task["due"] == step["due"] and task["overdue"] is False
    clock["now"] = _due(step) + timedelta(minutes=1)
    assert step_named(ticket(api, t["id"]), "Manager Approval")["overdue"] is True
    assert api.get(f"/api/tasks/{task['id']}", "bob").json["overdue"] is True


def test_a_step_without_a_due_time_is_never_overdue(api, clock):
    t = submit(api)  # the IT request's type and process give none
    step = step_named(ticket(api, t["id"]), "Manager Approval")
    clock["now"] += timedelta(days=365)
    assert step["due"] is None and step_named(ticket(api, t["id"]), "Manager Approval")["overdue"] is False


def test_the_inbox_filters_overdue_tasks(api, clock):
    late = purchase(api, 5000)
    plain = submit(api)
    due = _due(step_named(ticket(api, late["id"]), "Manager Approval"))
    ids = lambda query: {i["ticket"]["id"] for i in inbox(api, "bob", query)["items"]}
    assert ids("overdue=true") == set()
    assert ids("overdue=false") == {late["id"], plain["id"]}
    clock["now"] = due + timedelta(seconds=1)
    assert ids("overdue=true") == {late["id"]}
    assert ids("overdue=false") == {plain["id"]}
    assert inbox(api, "bob", "overdue=true")["total"] == 1


@pytest.mark.parametrize("value", ["yes", "1", "maybe", ""])
def test_a_bad_overdue_value_is_refused_naming_the_field(api, value):
    body = error(api.get(f"/api/tasks?overdue={value}", "bob"), 422, "validation_error")
    assert "overdue" in body["details"]


def test_the_dashboard_gives_the_sla_per_type(api, clock):
    done = purchase(api, 500)
    assert api.post(f"/api/tickets/{done['id']}/approve", "bob").status_code == 200
    waiting = purchase(api, 600)
    due = _due(step_named(ticket(api, waiting["id"]), "Manager Approval"))
    r = api.get("/api/stats", "carol")
    assert r.status_code == 200, r.json
    assert r.json["sla"] == {"with_due": 1, "on_time": 1, "share": 1.0, "open_overdue": 0,
                             "by_type": [{"type": "purchase_request", "with_due": 1, "on_time": 1, "share": 1.0,
                                          "open_overdue": 0}]}
    clock["now"] = due + timedelta(minutes=5)
    assert api.get(f"/api/tickets/{waiting['id']}", "carol").json["steps"][0]["overdue"] is True
    stats = api.get("/api/stats", "carol").json["sla"]
    assert stats["open_overdue"] == 1 and stats["by_type"][0]["open_overdue"] == 1


def test_reminders_reach_the_people_who_may_act(api, stack, clock):
    t = purchase(api, 5000)
    due = _due(step_named(ticket(api, t["id"]), "Manager Approval"))
    scanner = stack.container.reminders()
    clock["now"] = due - timedelta(hours=3)  # within PFLOW_REMIND_BEFORE (PT4H)
    assert len(scanner.run_once()) == 1
    stack.deliver_events()
    clock["now"] = due
    assert len(scanner.run_once()) == 1
    assert scanner.run_once() == []
    stack.deliver_events()
    kinds = [n["kind"] for n in api.get("/api/notifications", "bob").json["items"]]
    assert kinds.count("task.reminder") == 1 and kinds.count("task.overdue") == 1
    (note,) = [n for n in api.get("/api/notifications", "bob").json["items"] if n["kind"] == "task.overdue"]
    assert note["params"]["step"] == "Manager Approval" and note["ticket_id"] == t["id"]
    assert [n for n in api.get("/api/notifications", "alice").json["items"]
            if n["kind"] in ("task.reminder", "task.overdue")] == []
