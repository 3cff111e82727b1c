"""Step definitions shared by every feature. Steps drive the HTTP API and the worker runtime,
never an adapter, so the same features run on every engine (see tests/support.STACKS)."""

from __future__ import annotations

import threading

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


def _status(api, ticket_id):
    return api.get(f"/api/tickets/{ticket_id}", "carol").json["status"]


# --- given -------------------------------------------------------------------------------------

@given("the users alice (requester), bob (manager), dave (manager) and carol (admin)")
def _(users):
    for name, role in (("alice", "requester"), ("bob", "manager"), ("dave", "manager"), ("carol", "admin")):
        assert role in users.get(name).roles


@given(parsers.parse('{user} has created a ticket "{title}"'), target_fixture="ticket")
def _(api, user, title):
    r = api.post("/api/tickets", user, json={"title": title})
    assert r.status_code == 201, r.json
    return r.json["id"]


@given(parsers.parse('{user} has submitted a ticket "{title}"'), target_fixture="ticket")
def _(api, user, title):
    r = api.post("/api/tickets", user, json={"title": title})
    assert r.status_code == 201, r.json
    s = api.post(f"/api/tickets/{r.json['id']}/submit", user)
    assert s.status_code == 200, s.json
    return r.json["id"]


@given("the provisioning backend is failing")
def _(stack):
    stack.container.provisioner().failing = True


# --- when --------------------------------------------------------------------------------------

@when(parsers.parse('{user} creates a ticket "{title}" for {amount} with priority {priority}'),
      target_fixture="ticket")
def _(api, user, title, amount, priority):
    r = api.post("/api/tickets", user, json={"title": title, "amount": amount, "priority": priority})
    assert r.status_code == 201, r.json
    return r.json["id"]


@when(parsers.parse("{user} creates a ticket with an empty title and an amount of {amount}"),
      target_fixture="response")
def _(api, user, amount):
    return api.post("/api/tickets", user, json={"title": "", "amount": amount})


@when(parsers.parse("{user} submits the ticket"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/submit", user)


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


@when("the provisioning worker has run")
def _(api, ticket, running_worker):
    wait_until(lambda: _status(api, ticket) in ("completed", "provisioning_failed"), timeout=30,
               message="the worker did not finish provisioning")


@when("the provisioning backend is working again")
def _(stack):
    stack.container.provisioner().failing = False


@when(parsers.parse("{user} retries provisioning"), target_fixture="response")
def _(api, user, ticket):
    return api.post(f"/api/tickets/{ticket}/retry-provisioning", user, json={"comment": "backend fixed"})


# --- then --------------------------------------------------------------------------------------

@then("the request succeeds")
def _(response):
    assert response.status_code == 200, response.json


@then(parsers.re(r"the request is refused with (?P<status>\d+)$"))
def _(response, status):
    assert response.status_code == int(status), response.json
    assert response.json["error"]["message"]


@then(parsers.parse("the request is refused with {status:d} naming {fields}"))
def _(response, status, fields):
    assert response.status_code == status, response.json
    names = {f.strip() for f in fields.replace(" and ", ",").split(",")}
    assert names <= set(response.json["error"]["details"]), response.json


@then(parsers.re(r"the ticket is (?P<status>[a-z_]+)$"))
def _(api, ticket, status):
    assert _status(api, ticket) == status


@then(parsers.parse("the ticket is {status} by {manager}"))
def _(api, ticket, status, manager):
    t = api.get(f"/api/tickets/{ticket}", "carol").json
    assert (t["status"], t["approver"]) == (status, manager)


@then("the ticket is completed with a fulfilment reference")
def _(api, ticket):
    t = api.get(f"/api/tickets/{ticket}", "carol").json
    assert t["status"] == "completed" and t["fulfilment_reference"]


@then(parsers.parse("{user} may edit and submit it"))
def _(api, user, ticket):
    assert api.get(f"/api/tickets/{ticket}", user).json["allowed_actions"] == ["edit", "submit"]


@then(parsers.parse("{user} may retry provisioning"))
def _(api, user, ticket):
    assert "retry_provisioning" in api.get(f"/api/tickets/{ticket}", user).json["allowed_actions"]


@then(parsers.parse("{user} has no tickets"))
def _(api, user):
    assert api.get("/api/tickets", user).json["total"] == 0


@then(parsers.parse('the ticket is waiting in the "{task}" task for the {group} group'))
def _(stack, ticket, task, group):
    found = stack.engine.find_user_task(ticket)
    assert found is not None and found.name == task and group in found.candidate_groups


@then(parsers.parse("the ticket's history reads {actions}"))
def _(api, ticket, actions):
    history = api.get(f"/api/tickets/{ticket}/history", "carol").json
    assert [h["action"] for h in history] == [a.strip() for a in actions.split(",")]


@then(parsers.parse('the last history entry has the comment "{comment}"'))
def _(api, ticket, comment):
    assert api.get(f"/api/tickets/{ticket}/history", "carol").json[-1]["comment"] == comment


@then("the ticket's history has exactly one approval")
def _(api, ticket):
    history = api.get(f"/api/tickets/{ticket}/history", "carol").json
    assert [h["action"] for h in history].count("approved") == 1


@then(parsers.parse('the process has ended in "{end_event}"'))
def _(api, ticket, end_event):
    process = wait_until(lambda: (p := api.get(f"/api/tickets/{ticket}/process", "carol").json)["state"] == "completed"
                         and p, message="the process did not end")
    assert end_event in process["completed_activity_ids"]


@then("the process shows an incident")
def _(api, ticket):
    process = api.get(f"/api/tickets/{ticket}/process", "carol").json
    assert process["state"] == "incident" and process["incidents"]


@then("exactly one approval succeeds and the other is refused with 409")
def _(responses):
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.json for r in responses]
