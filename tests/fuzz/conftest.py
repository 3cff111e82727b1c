"""Schema fuzzing of the HTTP API (schemathesis): the embedded default and the production configuration.

The app runs in-process over WSGI; each configuration is built once per module and fuzzed as a
requester, a manager and an admin, each logged in through the API.
"""

from __future__ import annotations

import pytest

from pflow.container import build_container, migrate_database, shutdown
from pflow.entrypoints.http import create_app
from tests.fuzz import harness
from tests.support import TEST_USERS, build_stack, pg_url, require_postgres, reset_postgres, settings_for

ROLES = {"requester": "alice", "manager": "bob", "admin": "carol"}

# The fuzzer tries thousands of logins from one address: with the lockout on, the fuzzed users would be
# locked out of the rest of the run (the lockout itself is tested in tests/api/test_login_security.py).
NO_LOCKOUT = {"login_max_failures": 10**9, "login_address_max_failures": 10**9}

CONFIGURATIONS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("production", id="production", marks=[pytest.mark.integration, pytest.mark.camunda]),
]


def _production(tmp_path):
    """PostgreSQL for tickets and the Camunda 7 engine, as deployed (events stay in the outbox here)."""
    from tests.camunda import stack as camunda

    require_postgres()
    camunda.require_camunda()
    reset_postgres()
    # The shared Camunda test settings (session process keys, the test workflows folder), tickets in PostgreSQL.
    settings = settings_for("camunda", tmp_path, database_url=pg_url(), **NO_LOCKOUT)
    container = build_container(settings)
    container.users.override(TEST_USERS)
    migrate_database(container)
    camunda.install(container, settings)  # cancels what the run left running when the container shuts down
    from pflow.entrypoints.runtime import deploy_processes

    deploy_processes(container)  # every process of the test workflows folder, under the session's keys
    return container


@pytest.fixture(scope="module", params=CONFIGURATIONS)
def fuzzed_app(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        stack = build_stack("embedded", tmp_path, **NO_LOCKOUT)
        container, close = stack.container, stack.close
    else:
        container = _production(tmp_path)
        close = lambda: shutdown(container)  # noqa: E731
    app = create_app(container)
    seed_tickets(app)
    try:
        yield app
    finally:
        close()


@pytest.fixture(scope="module")
def base_url(fuzzed_app):
    with harness.served(fuzzed_app) as url:
        yield url


def login(app, username: str) -> str:
    r = app.test_client(use_cookies=False).post("/api/auth/login", json={"username": username, "password": username})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def _headers(app, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(app, username)}"}


def seed_tickets(app) -> None:
    """A draft, a ticket waiting for a manager, a rejected one and a purchase waiting for finance, so
    listings and inboxes are not empty."""
    client = app.test_client(use_cookies=False)
    alice, bob = _headers(app, "alice"), _headers(app, "bob")
    ids = []
    for title in ("Laptop", "Monitor", "Desk"):
        r = client.post("/api/tickets", json={"title": title, "fields": {"amount": 1200.5}}, headers=alice)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    for ticket_id in ids[1:]:
        assert client.post(f"/api/tickets/{ticket_id}/submit", headers=alice).status_code == 200
    r = client.post(f"/api/tickets/{ids[2]}/reject", json={"comment": "over budget"}, headers=bob)
    assert r.status_code == 200, r.get_json()
    r = client.post("/api/tickets", json={"type": "purchase_request", "title": "Servers",
                                          "fields": {"amount": 5000, "supplier": "ACME"}}, headers=alice)
    assert r.status_code == 201, r.get_json()
    r = client.post(f"/api/tickets/{r.get_json()['id']}/submit", headers=alice)
    assert r.status_code == 200, r.get_json()
    r = client.post(f"/api/tickets/{r.get_json()['id']}/approve", headers=bob)
    assert r.status_code == 200 and r.get_json()["current_steps"] == ["Finance Approval"], r.get_json()


def new_ticket(app, status: str) -> dict[str, str]:
    """A ticket of alice's in ``status`` (draft, in_progress, rejected or needs_attention), for fuzzing one
    operation on it: ``{"ticket_id": .., "task_id": ..}`` (the task: its open step, when it has one)."""
    client = app.test_client(use_cookies=False)
    alice = _headers(app, "alice")
    r = client.post("/api/tickets", json={"title": "Fuzzed", "fields": {"amount": 10}}, headers=alice)
    assert r.status_code == 201, r.get_json()
    ticket = r.get_json()
    if status != "draft":
        r = client.post(f"/api/tickets/{ticket['id']}/submit", headers=alice)
        assert r.status_code == 200 and r.get_json()["status"] == "in_progress", r.get_json()
        ticket = r.get_json()
    if status == "rejected":
        r = client.post(f"/api/tickets/{ticket['id']}/reject", json={"comment": "no"}, headers=_headers(app, "bob"))
        assert r.status_code == 200 and r.get_json()["status"] == "rejected", r.get_json()
    if status == "needs_attention":
        # Its process stopped in the engine behind PFlow's back: the admin's retry starts it again.
        tickets = app.extensions["pflow.container"].tickets()
        assert app.extensions["pflow.container"].workflow_engine().cancel(ticket["id"], "fuzzing retry")
        assert tickets.sync(ticket["id"]).status.value == "needs_attention"
    ids = {"ticket_id": ticket["id"]}
    if ticket["steps"]:
        ids["task_id"] = ticket["steps"][0]["id"]
    return ids


@pytest.fixture(scope="module")
def tokens(fuzzed_app) -> dict[str, str]:
    return {role: login(fuzzed_app, username) for role, username in ROLES.items()}
