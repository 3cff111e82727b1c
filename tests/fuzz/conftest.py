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
    base = settings_for("memory", tmp_path).__dict__  # the shared test settings (secret, dirs, BPMN)
    settings = camunda.settings({k: base[k] for k in ("secret_key", "data_dir", "ui_dir", "worker_retry_backoff_ms")},
                                {"database_url": pg_url()})
    container = build_container(settings)
    container.users.override(TEST_USERS)
    migrate_database(container)
    camunda.install(container, settings)  # cancels what the run left running when the container shuts down
    container.workflow_engine().deploy(settings.bpmn_file)
    return container


@pytest.fixture(scope="module", params=CONFIGURATIONS)
def fuzzed_app(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        stack = build_stack("embedded", tmp_path)
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
    r = app.test_client().post("/api/auth/login", json={"username": username, "password": username})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def seed_tickets(app) -> None:
    """A draft, a ticket awaiting approval and a rejected one, so listings and inboxes are not empty."""
    client = app.test_client()
    alice = {"Authorization": f"Bearer {login(app, 'alice')}"}
    bob = {"Authorization": f"Bearer {login(app, 'bob')}"}
    ids = []
    for title in ("Laptop", "Monitor", "Desk"):
        r = client.post("/api/tickets", json={"title": title, "amount": "1200.50"}, headers=alice)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    for ticket_id in ids[1:]:
        assert client.post(f"/api/tickets/{ticket_id}/submit", headers=alice).status_code == 200
    r = client.post(f"/api/tickets/{ids[2]}/reject", json={"comment": "over budget"}, headers=bob)
    assert r.status_code == 200, r.get_json()


def new_ticket(app, status: str) -> str:
    """A ticket of alice's in ``status`` (draft or pending_approval), for fuzzing one operation on it."""
    client = app.test_client()
    alice = {"Authorization": f"Bearer {login(app, 'alice')}"}
    r = client.post("/api/tickets", json={"title": "Fuzzed", "amount": "10.00"}, headers=alice)
    assert r.status_code == 201, r.get_json()
    ticket_id = r.get_json()["id"]
    if status == "pending_approval":
        r = client.post(f"/api/tickets/{ticket_id}/submit", headers=alice)
        assert r.status_code == 200, r.get_json()
    return ticket_id


@pytest.fixture(scope="module")
def tokens(fuzzed_app) -> dict[str, str]:
    return {role: login(fuzzed_app, username) for role, username in ROLES.items()}
