"""GET /api/auth/demo-users: the login screen lists the demo accounts only where they exist."""

from __future__ import annotations

import pytest

from pflow.container import build_container, shutdown
from pflow.entrypoints.http import create_app
from tests.support import build_stack, settings_for


def test_lists_demo_users_without_a_token_in_the_embedded_default(memory_stack):
    client = create_app(memory_stack.container).test_client(use_cookies=False)
    r = client.get("/api/auth/demo-users")
    assert r.status_code == 200, r.json
    by_name = {u["username"]: u for u in r.json}
    assert (by_name["bob"]["roles"], by_name["bob"]["groups"]) == (["manager"], ["managers"])
    assert (by_name["fiona"]["roles"], by_name["fiona"]["groups"]) == ([], ["finance"])
    assert set(by_name["alice"]) == {"username", "display_name", "roles", "groups"}  # never a password hash


def test_the_shipped_demo_users_have_a_group_for_every_shipped_step(tmp_path):
    container = build_container(settings_for("memory", tmp_path))
    try:
        r = create_app(container).test_client(use_cookies=False).get("/api/auth/demo-users")
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
        r = create_app(stack.container).test_client(use_cookies=False).get("/api/auth/demo-users")
        assert r.status_code == 404
        assert r.json["error"]["code"] == "not_found"
    finally:
        stack.close()


def _serve(monkeypatch, tmp_path, env: dict[str, str], *args: str):
    """`pflow serve` up to the point it would listen: the server is a stand-in that returns at once."""
    import waitress
    from click.testing import CliRunner

    from pflow.entrypoints.cli import main

    bound = {}

    class Server:
        def run(self):
            pass

        def close(self):
            pass

    def create_server(app, host, port, **_):
        bound.update(host=host, port=port, app=app)
        return Server()

    monkeypatch.setattr(waitress, "create_server", create_server)
    for name in ("WORKFLOW_ENGINE", "API_HTTP_PORT", "PFLOW_DEMO_USERS", "PFLOW_USERS_FILE", "DATABASE_URL",
                 "RABBITMQ_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PFLOW_RECONCILE_INTERVAL_S", "0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, ["serve", *args]), bound


def test_make_run_keeps_its_demo_users_on_localhost_and_says_so(monkeypatch, tmp_path):
    result, bound = _serve(monkeypatch, tmp_path, {"WORKFLOW_ENGINE": "embedded"})
    assert result.exit_code == 0, result.output
    assert bound["host"] == "127.0.0.1" and bound["port"] == 8080  # it listened on 0.0.0.0:8080
    assert "Using local demo users on localhost only" in result.output and "carol/carol" in result.output
    login = bound["app"].test_client(use_cookies=False).post("/api/auth/login", json={"username": "carol", "password": "carol"})
    assert login.status_code == 200


def test_demo_users_0_turns_them_off_on_the_embedded_default(monkeypatch, tmp_path):
    """The finding: PFLOW_DEMO_USERS=0 changed nothing on the embedded default, carol/carol still logged in."""
    result, bound = _serve(monkeypatch, tmp_path, {"WORKFLOW_ENGINE": "embedded", "PFLOW_DEMO_USERS": "0"})
    assert result.exit_code != 0 and not bound
    assert "PFLOW_DEMO_USERS=0 turns the demo users off" in result.output and "PFLOW_USERS_FILE" in result.output


@pytest.mark.parametrize("env, args", [({"PFLOW_DEMO_USERS": "1", "API_HTTP_PORT": "0.0.0.0:8080"}, ()),
                                       ({"PFLOW_DEMO_USERS": "1"}, ("--host", "0.0.0.0")),
                                       ({"WORKFLOW_ENGINE": "camunda", "PFLOW_DEMO_USERS": "1",
                                         "PFLOW_SECRET_KEY": "x" * 40}, ())])
def test_demo_users_on_a_host_others_can_reach_are_refused_at_start(monkeypatch, tmp_path, env, args):
    result, bound = _serve(monkeypatch, tmp_path, env, *args)
    assert result.exit_code != 0 and not bound, result.output
    assert "Refusing to serve the demo users" in result.output
    assert "PFLOW_USERS_FILE" in result.output and "API_HTTP_PORT=127.0.0.1:8080" in result.output


def test_a_host_others_can_reach_without_users_asks_for_a_users_file(monkeypatch, tmp_path):
    result, bound = _serve(monkeypatch, tmp_path, {}, "--host", "0.0.0.0")
    assert result.exit_code != 0 and not bound
    assert "No users are configured" in result.output and "PFLOW_USERS_FILE" in result.output
