"""Every operation of /api/openapi.json, fuzzed by schemathesis with all of its checks, as a requester, a
manager and an admin: no 5xx, every response as documented (status, content type, headers, body),
invalid input refused, valid input accepted, unsupported methods answered 405 with Allow.

Seeded and bounded by examples (not time), so a run is the same on a fast and a slow machine.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz import harness
from tests.fuzz.conftest import ROLES, login, new_ticket

pytestmark = pytest.mark.fuzz

# 14 keeps each configuration near a minute and a half on CI (the example budget of 20 per run over the
# 81 runs before the process-driven operations, spread over the 117 runs now); PFLOW_FUZZ_EXAMPLES=100
# digs deeper locally.
MAX_EXAMPLES = int(os.environ.get("PFLOW_FUZZ_EXAMPLES", "14"))

# The operations fuzzed; test_every_documented_operation_is_fuzzed keeps this list honest.
OPERATIONS = [
    ("POST", "/api/auth/login"),
    ("GET", "/api/auth/demo-users"),
    ("GET", "/api/auth/providers"),
    # browser redirects of single sign-on; off in the fuzzed stacks (404), run against Keycloak in
    # tests/integration/test_keycloak.py and frontend/e2e/sso.test.mjs
    ("GET", "/api/auth/oidc/login"),
    ("GET", "/api/auth/oidc/callback"),
    ("GET", "/api/auth/oidc/logout"),
    ("GET", "/api/me"),
    ("GET", "/api/ticket-types"),
    ("GET", "/api/tickets"),
    ("POST", "/api/tickets"),
    ("GET", "/api/tickets/{ticket_id}"),
    ("PATCH", "/api/tickets/{ticket_id}"),
    ("DELETE", "/api/tickets/{ticket_id}"),
    ("POST", "/api/tickets/{ticket_id}/submit"),
    ("POST", "/api/tickets/{ticket_id}/approve"),
    ("POST", "/api/tickets/{ticket_id}/reject"),
    ("POST", "/api/tickets/{ticket_id}/withdraw"),
    ("POST", "/api/tickets/{ticket_id}/resubmit"),
    ("POST", "/api/tickets/{ticket_id}/retry"),
    ("POST", "/api/tickets/{ticket_id}/reconcile"),
    ("GET", "/api/tickets/{ticket_id}/history"),
    ("GET", "/api/tickets/{ticket_id}/process"),
    ("GET", "/api/tasks"),
    ("GET", "/api/tasks/{task_id}"),
    ("POST", "/api/tasks/{task_id}/complete"),
    ("POST", "/api/tasks/{task_id}/claim"),
    ("POST", "/api/tasks/{task_id}/unclaim"),
    ("PUT", "/api/tasks/{task_id}/assignee"),
    ("GET", "/api/me/substitute"),
    ("PUT", "/api/me/substitute"),
    ("DELETE", "/api/me/substitute"),
    ("GET", "/api/approvals"),
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/read-all"),
    ("POST", "/api/notifications/{notification_id}/read"),
    ("GET", "/api/stats"),
    ("GET", "/api/incidents"),
    ("GET", "/api/users"),
    ("GET", "/api/me/preferences"),
    ("PUT", "/api/me/preferences"),
    ("GET", "/api/admin/preferences"),
    ("PUT", "/api/admin/preferences"),
    ("GET", "/api/webhooks"),
    ("POST", "/api/webhooks"),
    ("GET", "/api/webhooks/{webhook_id}"),
    ("PATCH", "/api/webhooks/{webhook_id}"),
    ("DELETE", "/api/webhooks/{webhook_id}"),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"),
    ("POST", "/api/webhooks/{webhook_id}/test"),
    # These two revoke tokens: they are fuzzed with tokens of their own, and revoke only a user no other
    # operation signs in as (REVOKED), so the other operations keep theirs.
    ("POST", "/api/auth/logout"),
    ("POST", "/api/users/{username}/revoke"),
]

REVOKING = {("POST", "/api/auth/logout"), ("POST", "/api/users/{username}/revoke")}
REVOKED = "dave"


# Where drawn ids would only ever reach a 404, each operation on a ticket (or on one of its steps) is also
# fuzzed on a real one, in the status where it does something (tests/fuzz/conftest.py: new_ticket).
ON_A_TICKET = {
    "GET /api/tickets/{ticket_id}": "draft",
    "PATCH /api/tickets/{ticket_id}": "draft",
    "DELETE /api/tickets/{ticket_id}": "draft",
    "POST /api/tickets/{ticket_id}/submit": "draft",
    "POST /api/tickets/{ticket_id}/approve": "in_progress",
    "POST /api/tickets/{ticket_id}/reject": "in_progress",
    "POST /api/tickets/{ticket_id}/withdraw": "in_progress",
    "POST /api/tickets/{ticket_id}/resubmit": "rejected",
    "POST /api/tickets/{ticket_id}/retry": "needs_attention",
    "POST /api/tickets/{ticket_id}/reconcile": "in_progress",
    "GET /api/tickets/{ticket_id}/history": "in_progress",
    "GET /api/tickets/{ticket_id}/process": "in_progress",
    "GET /api/tasks/{task_id}": "in_progress",
    "POST /api/tasks/{task_id}/complete": "in_progress",
    "POST /api/tasks/{task_id}/claim": "in_progress",
    "POST /api/tasks/{task_id}/unclaim": "in_progress",
    "PUT /api/tasks/{task_id}/assignee": "in_progress",
}


def test_every_documented_operation_is_fuzzed(fuzzed_app):
    document = fuzzed_app.test_client(use_cookies=False).get("/api/openapi.json").get_json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("role", ["requester", "manager", "admin"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_operation_answers_as_documented(fuzzed_app, base_url, tokens, role, method, path):
    token, pinned = tokens[role], None
    if (method, path) in REVOKING:
        token = login(fuzzed_app, ROLES[role])
        pinned = {"username": REVOKED} if "{username}" in path else None
    found = harness.run(harness.load(base_url, token, MAX_EXAMPLES, (method, path), pinned))
    assert set(found.operations) == {f"{method} {path}"}, found.operations  # that operation and no other
    check(found)


@pytest.mark.parametrize("role", ["requester", "manager", "admin"])
@pytest.mark.parametrize("operation", list(ON_A_TICKET))
def test_the_operation_on_an_existing_ticket_answers_as_documented(fuzzed_app, base_url, tokens, role, operation):
    method, path = operation.split(" ", 1)
    ids = new_ticket(fuzzed_app, ON_A_TICKET[operation])
    pinned = {name: value for name, value in ids.items() if "{" + name + "}" in path}
    found = harness.run(harness.load(base_url, tokens[role], MAX_EXAMPLES, (method, path), pinned))
    assert set(found.operations) == {operation}, found.operations
    check(found)


def check(found: harness.Findings) -> None:
    assert found.cases > 0, "schemathesis sent nothing"
    assert not found.failures and not found.errors, found.report()
    assert not [s for s in found.statuses if s >= 500], found.report()
