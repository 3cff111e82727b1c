"""GET /api/auth/demo-users: the login screen lists the demo accounts only where they exist."""

from __future__ import annotations

from pflow.container import build_container, shutdown
from pflow.entrypoints.http import create_app
from tests.support import build_stack, settings_for


def test_lists_demo_users_without_a_token_in_the_embedded_default(memory_stack):
    client = create_app(memory_stack.container).test_client()
    r = client.get("/api/auth/demo-users")
    assert r.status_code == 200, r.json
    by_name = {u["username"]: u for u in r.json}
    assert (by_name["bob"]["roles"], by_name["bob"]["groups"]) == (["manager"], ["managers"])
    assert (by_name["fiona"]["roles"], by_name["fiona"]["groups"]) == ([], ["finance"])
    assert set(by_name["alice"]) == {"username", "display_name", "roles", "groups"}  # never a password hash


def test_the_shipped_demo_users_have_a_group_for_every_shipped_step(tmp_path):
    container = build_container(settings_for("memory", tmp_path))
    try:
        r = create_app(container).test_client().get("/api/auth/demo-users")
        assert r.status_code == 200, r.json
        groups = {u["username"]: set(u["groups"]) for u in r.json}
        assert {"alice", "bob", "dave", "fiona", "sam", "carol"} <= set(groups)
        assert "managers" in groups["bob"] and "managers" in groups["dave"]
        assert "finance" in groups["fiona"] and "security" in groups["sam"]
        assert "admin" in next(u["roles"] for u in r.json if u["username"] == "carol")
    finally:
        shutdown(container)


def test_is_404_when_a_users_file_is_configured(tmp_path):
    stack = build_stack("memory", tmp_path, users_file=tmp_path / "users.json")
    try:
        r = create_app(stack.container).test_client().get("/api/auth/demo-users")
        assert r.status_code == 404
        assert r.json["error"]["code"] == "not_found"
    finally:
        stack.close()
