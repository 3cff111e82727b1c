"""GET /api/auth/demo-users: the login screen lists the demo accounts only where they exist."""

from __future__ import annotations

from pflow.entrypoints.http import create_app
from tests.support import build_stack


def test_lists_demo_users_without_a_token_in_the_embedded_default(memory_stack):
    client = create_app(memory_stack.container).test_client()
    r = client.get("/api/auth/demo-users")
    assert r.status_code == 200, r.json
    by_name = {u["username"]: u for u in r.json}
    assert by_name["bob"]["roles"] == ["manager"]
    assert set(by_name["alice"]) == {"username", "display_name", "roles"}  # never a password hash


def test_is_404_when_a_users_file_is_configured(tmp_path):
    stack = build_stack("memory", tmp_path, users_file=tmp_path / "users.json")
    try:
        r = create_app(stack.container).test_client().get("/api/auth/demo-users")
        assert r.status_code == 404
        assert r.json["error"]["code"] == "not_found"
    finally:
        stack.close()
