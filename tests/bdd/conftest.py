"""Step definitions shared by every feature. Steps drive the HTTP API and the worker runtime,
never an adapter, so the same features run on every engine (see tests/support.STACKS)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from pytest_bdd import given, parsers, then, when

from tests.support import wait_until


@pytest.fixture(autouse=True)
def _every_scenario_on_every_stack(stack):
    """Steps ask for fixtures at run time; depending on ``stack`` here makes pytest
    parametrize each scenario over the adapter sets at collection."""
    return stack


@pytest.fixture
def running_worker(stack):
    """The external-task worker, running in the background like `pflow worker`."""
    worker = stack.worker()
    worker.start()
    yield worker
    worker.stop(timeout=10)


def _ticket(api, ticket_id):
    return api.get(f"/api/tickets/{ticket_id}", "carol").json


def _history(api, ticket_id):
    return api.get(f"/api/tickets/{ticket_id}/history", "carol").json


def _create(api, user, body):
    r = api.post("/api/tickets", user, json=body)
    assert r.status_code == 201, r.json
    return r.json["id"]


def _submit(api, user, ticket_id):
    r = api.post(f"/api/tickets/{ticket_id}/submit", user)
    assert r.status_code == 200, r.json
    return ticket_id


def _step(api, ticket_id, name):
    steps = [s for s in _ticket(api, ticket_id)["steps"] if s["name"] == name]
    assert steps, f"no open step {name!r}: {_ticket(api, ticket_id)}"
    return steps[0]


# --- given -------------------------------------------------------------------------------------

@given("the demo users")
def _(users):
    assert users.get("bob").in_group("managers") and users.get("fiona").in_group("finance")
    assert users.get("sam").in_group("security") and users.get("carol").is_admin
    assert users.get("frank").in_group("managers") and users.get("frank").in_group("finance")


@given(parsers.parse('{user} has created an IT request "{title}"'), target_fixture="ticket")
def _(api, user, title):
    return _create(api, user, {"title": title})


@given(parsers.parse('{user} has submitted an IT request "{title}"'), target_fixture="ticket")
def _(api, user, title):
    return _submit(api, user, _create(api, user, {"title": title}))


@given(parsers.parse('{user} has submitted a purchase request of {amount} from "{supplier}"'), target_fixture="ticket")
def _(api, user, amount, supplier):
    body = {"type": "purchase_request", "title": f"Purchase from {supplier}",
            "fields": {"amount": float(amount), "supplier": supplier}}
    return _submit(api, user, _create(api, user, body))


@given(parsers.parse('{user} has submitted an expense claim of {amount} for "{purpose}"'), target_fixture="ticket")
def _(api, user, amount, purpose):
    body = {"type": "expense_claim", "title": purpose,
            "fields": {"amount": float(amount), "purpose": purpose, "spent_on": "2026-11-30"}}
    return _submit(api, user, _create(api, user, body))


@given(parsers.parse('{user} has submitted an access request for "{system}" with {level} access'),
       target_fixture="ticket")
def _(api, user, system, level):
    body = {"type": "access_request", "title": f"Access to {system}",
            "fields": {"system": system, "access_level": level}}
    return _submit(api, user, _create(api, user, body))


@given(parsers.parse('{user} has submitted a contract review "{title}"'), target_fixture="ticket")
def _(api, user, title):
    return _submit(api, user, _create(api, user, {"type": "contract_review", "title": title}))


@given(parsers.parse('{user} has submitted a renamed request "{title}"'), target_fixture="ticket")
def _(api, user, title):
    return _submit(api, user, _create(api, user, {"type": "renamed_request", "title": title}))


@given("the provisioning backend is failing")
def _(stack):
    stack.container.provisioner().failing = True


# --- when --------------------------------------------------------------------------------------

@when(parsers.parse('{user} creates an IT request "{title}" for {amount} with priority {priority}'),
      target_fixture="ticket")
def _(api, user, title, amount, priority):
    return _create(api, user, {"title": title, "fields": {"amount": float(amount), "priority": priority}})


@when(parsers.parse("{user} creates a purchase request with an empty title and an amount of {amount}"),
      target_fixture="response")
def _(api, user, amount):
    return api.post("/api/tickets", user, json={"type": "purchase_request", "title": "",
                                                "fields": {"amount": float(amount), "supplier": "ACME"}})


@when(parsers.parse('{user} creates a purchase request "{title}" with an amount of {amount} and no supplier'),
      target_fixture="response")
def _(api, user, title, amount):
    return api.post("/api/tickets", user, json={"type": "purchase_request", "title": title,
                                                "fields": {"amount": float(amount)}})


@when(parsers.parse("{user} submits the ticket"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/submit", user)


@when(parsers.parse("{user} deletes the ticket"), target_fixture="response")
def _(api, user, ticket):
    r = api.call("DELETE", f"/api/tickets/{ticket}", user)
    assert r.status_code == 204, r.json
    return r


@when(parsers.parse('{user} withdraws the ticket with the comment "{comment}"'), target_fixture="response")
def _(api, user, ticket, comment):
    r = api.post(f"/api/tickets/{ticket}/withdraw", user, json={"comment": comment})
    assert r.status_code == 200, r.json
    return r


@when(parsers.parse("{user} resubmits the ticket"), target_fixture="response")
def _(api, user, ticket):
    r = api.post(f"/api/tickets/{ticket}/resubmit", user)
    assert r.status_code == 201, r.json
    return r


@when(parsers.parse('{user} approves the ticket with the comment "{comment}"'), target_fixture="response")
def _(api, user, ticket, comment):
    return api.post(f"/api/tickets/{ticket}/approve", user, json={"comment": comment})


@when(parsers.re(r"(?P<user>\w+) approves the ticket$"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/approve", user)


@when(parsers.parse('{user} rejects the ticket with the comment "{comment}"'), target_fixture="response")
def _(api, user, ticket, comment):
    return api.post(f"/api/tickets/{ticket}/reject", user, json={"comment": comment})


@when(parsers.parse("{user} rejects the ticket without a comment"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/reject", user, json={})


@when(parsers.re(r'(?P<user>\w+) completes "(?P<name>[^"]+)" with (?P<field>\w+)$'), target_fixture="response")
def _(api, user, ticket, name, field):
    step = _step(api, ticket, name)
    decision = next(f for f in step["form"] if f["decision"])
    return api.post(f"/api/tasks/{step['id']}/complete", user, json={"variables": {decision["id"]: True}})


@when(parsers.re(r'(?P<user>\w+) completes "(?P<name>[^"]+)"$'), target_fixture="response")
def _(api, user, ticket, name):
    step = _step(api, ticket, name)
    r = api.post(f"/api/tasks/{step['id']}/complete", user, json={"variables": {}})
    assert r.status_code == 200, r.json
    return r


@when(parsers.parse("{first} and {second} approve the ticket at the same time"), target_fixture="responses")
def _(api, first, second, ticket):
    for user in (first, second):
        api.token(user)  # log in first so both requests start together
    barrier = threading.Barrier(2)
    responses = {}

    def approve(user):
        barrier.wait()
        responses[user] = api.post(f"/api/tickets/{ticket}/approve", user)

    threads = [threading.Thread(target=approve, args=(u,)) for u in (first, second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return list(responses.values())


@when(parsers.parse("{hours:d} hours pass"))
def _(stack, ticket, hours):
    stack.pass_time(hours * 3600, ticket)


@when("the automated steps have run")
def _(api, ticket, running_worker):
    def settled():
        t = _ticket(api, ticket)
        return t["status"] != "in_progress" or t["steps"]  # finished, needs attention, or a person's turn

    wait_until(settled, timeout=30, message="the automated steps did not finish")


@when("the provisioning backend is working again")
def _(stack):
    stack.container.provisioner().failing = False


@when(parsers.parse("{user} retries the ticket"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/retry", user, json={"comment": "backend fixed"})


@when(parsers.parse('{user} claims "{name}"'), target_fixture="response")
def _(api, user, ticket, name):
    return api.post(f"/api/tasks/{_step(api, ticket, name)['id']}/claim", user)


@when(parsers.parse('{user} gives "{name}" back'), target_fixture="response")
def _(api, user, ticket, name):
    r = api.post(f"/api/tasks/{_step(api, ticket, name)['id']}/unclaim", user)
    assert r.status_code == 200, r.json
    return r


@when(parsers.parse('{user} reassigns "{name}" to {assignee}'), target_fixture="response")
def _(api, user, ticket, name, assignee):
    return api.put(f"/api/tasks/{_step(api, ticket, name)['id']}/assignee", user, json={"assignee": assignee})


def _name_substitute(api, user, substitute, starts, ends):
    return api.put("/api/me/substitute", user, json={"substitute": substitute, "starts": starts.isoformat(),
                                                     "ends": ends.isoformat()})


@given(parsers.parse("{user} has named {substitute} his substitute for the next {days:d} days"))
def _(api, user, substitute, days):
    now = datetime.now(timezone.utc)
    r = _name_substitute(api, user, substitute, now - timedelta(minutes=1), now + timedelta(days=days))
    assert r.status_code == 200, r.json


@when(parsers.parse("{user} names {substitute} his substitute for the next {days:d} days"), target_fixture="response")
def _(api, user, substitute, days):
    now = datetime.now(timezone.utc)
    return _name_substitute(api, user, substitute, now, now + timedelta(days=days))


@when(parsers.parse("{user} names {substitute} his substitute ending before it starts"), target_fixture="response")
def _(api, user, substitute):
    now = datetime.now(timezone.utc)
    return _name_substitute(api, user, substitute, now + timedelta(days=3), now + timedelta(days=2))


# --- then --------------------------------------------------------------------------------------

@then("the request succeeds")
def _(response):
    assert response.status_code in (200, 201), response.json


@then(parsers.re(r"the request is refused with (?P<status>\d+)$"))
def _(response, status):
    assert response.status_code == int(status), response.json
    assert response.json["error"]["message"]


@then(parsers.re(r"the request is refused with (?P<status>\d+) because (?P<reason>\w+)$"))
def _(response, status, reason):
    assert response.status_code == int(status), response.json
    assert response.json["error"]["details"].get("reason") == reason, response.json


@then(parsers.parse("the request is refused with {status:d} naming {fields}"))
def _(response, status, fields):
    assert response.status_code == status, response.json
    names = {f.strip() for f in fields.replace(" and ", ",").split(",")}
    assert names <= set(response.json["error"]["details"]), response.json


@then(parsers.re(r"the ticket is (?P<status>[a-z_]+)$"))
def _(api, ticket, status):
    assert _ticket(api, ticket)["status"] == status


@then(parsers.re(r'the ticket is in_progress at (?P<names>"[^"]+"( and "[^"]+")*)$'))
def _(api, ticket, names):
    wanted = sorted(n.strip().strip('"') for n in names.split(" and "))
    # An automated step is open only until the worker (when one runs) is done with it.
    t = _ticket(api, ticket)
    assert t["status"] == "in_progress", t
    assert sorted(t["current_steps"]) == wanted, t


@then("the ticket is gone")
def _(api, ticket):
    assert api.get(f"/api/tickets/{ticket}", "carol").status_code == 404


@then(parsers.parse("{user} may edit, submit and delete it"))
def _(api, user, ticket):
    assert api.get(f"/api/tickets/{ticket}", user).json["allowed_actions"] == ["edit", "submit", "delete"]


@then(parsers.parse("{user} may retry it"))
def _(api, user, ticket):
    assert "retry" in api.get(f"/api/tickets/{ticket}", user).json["allowed_actions"]


@then(parsers.parse("{user} has no tickets"))
def _(api, user):
    assert api.get("/api/tickets", user).json["total"] == 0


@then(parsers.parse('the step "{name}" is offered to the {group} group'))
def _(api, ticket, name, group):
    assert group in _step(api, ticket, name)["candidate_groups"]


@then(parsers.parse('the step "{name}" is offered to the user {user}'))
def _(api, ticket, name, user):
    assert _step(api, ticket, name)["candidate_users"] == [user]


@then(parsers.parse('the step "{name}" is assigned to {user}'))
def _(api, ticket, name, user):
    assert _step(api, ticket, name)["assignee"] == user


@then(parsers.parse("{user} has no task for the ticket"))
def _(api, user, ticket):
    tasks = api.get("/api/tasks", user).json["items"]
    assert [t for t in tasks if t["ticket"]["id"] == ticket] == []


@then("nobody has a task for the ticket")
def _(api, ticket, users):
    for user in users.list_users():
        tasks = api.get("/api/tasks", user.username).json["items"]
        assert [t for t in tasks if t["ticket"]["id"] == ticket] == [], user.username


@then(parsers.parse('{user} has a task "{name}" for the ticket'))
def _(api, user, ticket, name):
    tasks = api.get("/api/tasks", user).json["items"]
    assert [t["name"] for t in tasks if t["ticket"]["id"] == ticket] == [name]


@then(parsers.parse('{user} has a task "{name}" for the ticket on behalf of {principal}'))
def _(api, user, ticket, name, principal):
    tasks = api.get("/api/tasks", user).json["items"]
    assert [(t["name"], t["on_behalf_of"]) for t in tasks if t["ticket"]["id"] == ticket] == [(name, principal)]


@then(parsers.parse('the step "{name}" was completed by {user} on behalf of {principal}'))
def _(api, ticket, name, user, principal):
    done = [h for h in _history(api, ticket) if h["action"] == "step_completed" and h["details"]["step_name"] == name]
    assert [(h["actor"], h["details"].get("on_behalf_of")) for h in done] == [(user, principal)]


@then("a new draft has the same type, title and fields")
def _(api, ticket, response):
    old, new = _ticket(api, ticket), response.json
    assert new["id"] != old["id"] and new["status"] == "draft"
    assert (new["type"], new["title"], new["fields"]) == (old["type"], old["title"], old["fields"])


@then("the ticket shows its fulfilment reference")
def _(api, ticket):
    reference = _ticket(api, ticket)["results"].get("fulfilment_reference")
    assert reference and reference.startswith("PRV-"), _ticket(api, ticket)
    entries = [h for h in _history(api, ticket) if h["action"] == "step_results"]
    assert [h["details"]["reference"] for h in entries] == [reference]  # recorded once, worded by the timeline


@then(parsers.parse("{user} finds only this ticket by part of its fulfilment reference"))
def _(api, ticket, user):
    reference = _ticket(api, ticket)["results"]["fulfilment_reference"]
    found = api.get("/api/tickets", user, query_string={"q": reference[2:-1].lower()}).json
    assert [t["id"] for t in found["items"]] == [ticket], found
    assert found["items"][0]["results"]["fulfilment_reference"] == reference


@then(parsers.parse("the ticket's history reads {actions}"))
def _(api, ticket, actions):
    assert [h["action"] for h in _history(api, ticket)] == [a.strip() for a in actions.split(",")]


@then(parsers.parse('the step "{name}" was completed by {user} with the comment "{comment}"'))
def _(api, ticket, name, user, comment):
    done = [h for h in _history(api, ticket) if h["action"] == "step_completed" and h["details"]["step_name"] == name]
    assert [(h["actor"], h["comment"]) for h in done] == [(user, comment)]


@then(parsers.parse('the ticket\'s history has steps "{first}" by {first_user} and "{second}" by {second_user}'))
def _(api, ticket, first, first_user, second, second_user):
    done = [(h["details"]["step_name"], h["actor"]) for h in _history(api, ticket) if h["action"] == "step_completed"]
    assert done == [(first, first_user), (second, second_user)]


@then(parsers.parse('the ticket\'s history has exactly one completion of "{name}"'))
def _(api, ticket, name):
    done = [h for h in _history(api, ticket) if h["action"] == "step_completed" and h["details"]["step_name"] == name]
    assert len(done) == 1


@then("exactly one approval succeeds and the other is refused with 409")
def _(responses):
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.json for r in responses]


# --- due times and reminders (features/due_dates.feature) ----------------------------------------

def _time(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def clock(stack):
    """The container's clock, which the API and the reminder scanner judge due times by; steps move it."""
    from datetime import datetime, timezone

    from dependency_injector import providers

    moment = {"now": datetime.now(timezone.utc)}
    stack.container.clock.override(providers.Object(lambda: moment["now"]))
    yield moment
    stack.container.clock.reset_override()


def _notes(api, user, kind, ticket):
    items = api.get("/api/notifications", user, query_string={"page_size": 100}).json["items"]
    return [n for n in items if n["kind"] == kind and n["ticket_id"] == ticket]


@then(parsers.parse('the step "{name}" is due {hours:d} hours after it opened'))
def _(api, ticket, name, hours):
    from datetime import timedelta

    step = _step(api, ticket, name)
    assert step["due"] and step["overdue"] is False, step
    assert abs(_time(step["due"]) - _time(step["created_at"]) - timedelta(hours=hours)) < timedelta(seconds=2), step


@when(parsers.parse('{hours:d} hours have passed since the step "{name}" opened'))
def _(api, ticket, clock, name, hours):
    from datetime import timedelta

    clock["now"] = _time(_step(api, ticket, name)["created_at"]) + timedelta(hours=hours)


@when("the reminders have been sent")
def _(stack, clock):
    stack.container.reminders().run_once()
    stack.deliver_events()


@then(parsers.parse("{user} has no overdue task"))
def _(api, user, clock):
    assert api.get("/api/tasks", user, query_string={"overdue": "true"}).json["items"] == []


@then(parsers.parse('{user} has an overdue task "{name}" for the ticket'))
def _(api, user, ticket, name, clock):
    tasks = api.get("/api/tasks", user, query_string={"overdue": "true"}).json["items"]
    mine = [t for t in tasks if t["ticket"]["id"] == ticket]
    assert [(t["name"], t["overdue"]) for t in mine] == [(name, True)], tasks


@then(parsers.re(r'(?P<user>\w+) is reminded (?:once )?that "(?P<name>[^"]+)" is due$'))
def _(api, user, ticket, name):
    notes = _notes(api, user, "task.reminder", ticket)
    assert [n["params"]["step"] for n in notes] == [name], notes


@then(parsers.parse('{user} is told once that "{name}" is overdue'))
def _(api, user, ticket, name):
    notes = _notes(api, user, "task.overdue", ticket)
    assert [n["params"]["step"] for n in notes] == [name], notes


@then(parsers.parse("{user} is not reminded of the ticket"))
def _(api, user, ticket):
    assert _notes(api, user, "task.reminder", ticket) == [] and _notes(api, user, "task.overdue", ticket) == []


@then(parsers.parse("the dashboard shows {on_time:d} of {with_due:d} {type_} steps done in time"))
def _(api, on_time, with_due, type_):
    sla = api.get("/api/stats", "carol").json["sla"]
    (row,) = [r for r in sla["by_type"] if r["type"] == type_]
    assert (row["on_time"], row["with_due"]) == (on_time, with_due), sla
