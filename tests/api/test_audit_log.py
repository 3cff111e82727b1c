"""The authentication audit trail and the access log (the finding: 170 failed logins left no line, and
there was no access log): one JSON object per line under `pflow.audit` / `pflow.access`."""

from __future__ import annotations

import json
import logging

import pytest

from pflow.config import Settings
from pflow.entrypoints.http import create_app
from tests.support import build_stack


@pytest.fixture
def stack(tmp_path):
    s = build_stack("memory", tmp_path)
    yield s
    s.close()


def lines(caplog, logger: str) -> list[dict]:
    found = [r for r in caplog.records if r.name == logger]
    for record in found:
        assert "\n" not in record.getMessage()
    return [json.loads(r.getMessage()) for r in found]


def test_login_success_and_failure_are_audited_without_the_password(stack, caplog):
    client = create_app(stack.container).test_client(use_cookies=False)
    caplog.set_level(logging.INFO, logger="pflow.audit")
    secret = "not-alices-password-4711"
    assert client.post("/api/auth/login", json={"username": "alice", "password": secret},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "mallory", "password": secret},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "alice", "password": "alice"},
                       headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    events = lines(caplog, "pflow.audit")
    assert [(e["event"], e["username"], e.get("reason")) for e in events] == [
        ("login.failure", "alice", "wrong_password"), ("login.failure", "mallory", "unknown_user"),
        ("login.success", "alice", None)]
    assert events[0]["client"] == events[1]["client"] == "203.0.113.7"
    assert events[2]["forwarded_for"] == "198.51.100.2" and events[2]["client"]
    failures = [r for r in caplog.records if r.name == "pflow.audit" and r.levelno == logging.WARNING]
    assert len(failures) == 2 and failures[0].audit["reason"] == "wrong_password"
    assert all(secret not in r.getMessage() and "password\":" not in r.getMessage() for r in caplog.records)


def test_a_user_name_cannot_forge_a_log_line(stack, caplog):
    client = create_app(stack.container).test_client(use_cookies=False)
    caplog.set_level(logging.INFO, logger="pflow.audit")
    forged = 'x"}\n{"event": "login.success", "username": "carol'
    client.post("/api/auth/login", json={"username": forged, "password": "x"})
    (only,) = lines(caplog, "pflow.audit")
    assert only["event"] == "login.failure" and only["username"] == forged


def test_every_request_gets_an_access_line(stack, caplog):
    client = create_app(stack.container).test_client(use_cookies=False)
    caplog.set_level(logging.INFO, logger="pflow.access")
    token = client.post("/api/auth/login", json={"username": "bob", "password": "bob"}).json["token"]
    client.get("/api/tickets?status=draft", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/tickets")
    client.get("/healthz")
    access = lines(caplog, "pflow.access")
    assert [(a["method"], a["path"], a["status"], a["user"]) for a in access] == [
        ("POST", "/api/auth/login", 200, None), ("GET", "/api/tickets", 200, "bob"),
        ("GET", "/api/tickets", 401, None), ("GET", "/healthz", 200, None)]
    assert all(isinstance(a["duration_ms"], float) and a["duration_ms"] >= 0 for a in access)
    assert all(a["client"] == "127.0.0.1" for a in access)
    assert all("token" not in json.dumps(a) and "status=draft" not in a["path"] for a in access)


def test_the_access_log_can_be_turned_off(tmp_path, caplog):
    assert Settings.from_env({"PFLOW_ACCESS_LOG": "0"}).access_log is False
    assert Settings.from_env({}).access_log is True
    stack = build_stack("memory", tmp_path, access_log=False)
    try:
        client = create_app(stack.container).test_client(use_cookies=False)
        caplog.set_level(logging.INFO)
        client.get("/healthz")
        client.post("/api/auth/login", json={"username": "bob", "password": "wrong"})
        assert lines(caplog, "pflow.access") == []
        assert [e["event"] for e in lines(caplog, "pflow.audit")] == ["login.failure"]  # the audit trail stays
    finally:
        stack.close()


def _login(client, username, password, address="203.0.113.9"):
    return client.post("/api/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_a_lockout_and_the_logins_it_refuses_are_audited(stack, caplog):
    client = create_app(stack.container).test_client()
    caplog.set_level(logging.INFO, logger="pflow.audit")
    secret = "wrong-password-of-alice"
    for _ in range(5):
        assert _login(client, "alice", secret).status_code == 401
    assert _login(client, "alice", "alice").status_code == 429
    events = lines(caplog, "pflow.audit")
    assert [(e["event"], e.get("reason")) for e in events] == [("login.failure", "wrong_password")] * 5 + [
        ("login.lockout", "too_many_failures"), ("login.locked", "locked")]
    lockout, refused = events[-2], events[-1]
    assert lockout["username"] == refused["username"] == "alice"
    assert lockout["client"] == refused["client"] == "203.0.113.9"
    assert lockout["locked"] == ["username"] and lockout["until"]
    assert 14 * 60 < refused["retry_after_s"] <= 15 * 60
    warnings = [r.audit["event"] for r in caplog.records if r.name == "pflow.audit" and r.levelno == logging.WARNING]
    assert warnings[-2:] == ["login.lockout", "login.locked"]
    assert all(secret not in r.getMessage() and "password\":" not in r.getMessage() for r in caplog.records)


def test_an_address_lockout_is_audited_once_with_what_it_locked(stack, caplog):
    client = create_app(stack.container).test_client()
    caplog.set_level(logging.INFO, logger="pflow.audit")
    for i in range(20):
        assert _login(client, f"nobody{i}", "x", address="198.51.100.40").status_code == 401
    lockouts = [e for e in lines(caplog, "pflow.audit") if e["event"] == "login.lockout"]
    assert [(e["username"], e["locked"]) for e in lockouts] == [("nobody19", ["address"])]


def test_logout_and_an_admins_revoke_are_audited(stack, caplog):
    client = create_app(stack.container).test_client()
    caplog.set_level(logging.INFO, logger="pflow.audit")
    bob = _login(client, "bob", "bob").json["token"]
    carol = _login(client, "carol", "carol").json["token"]
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {bob}"}).status_code == 204
    assert client.post("/api/users/alice/revoke", headers={"Authorization": f"Bearer {carol}"}).status_code == 204
    refused = client.post("/api/users/alice/revoke", headers={"Authorization": f"Bearer {bob}"})
    assert refused.status_code == 401  # bob signed out: nothing was done, nothing audited
    events = [e for e in lines(caplog, "pflow.audit") if e["event"] != "login.success"]
    assert [(e["event"], e["username"], e.get("by")) for e in events] == [
        ("logout", "bob", None), ("sessions.revoke", "alice", "carol")]
    assert all(e["client"] == "203.0.113.9" or e["client"] == "127.0.0.1" for e in events)
    assert all(bob not in r.getMessage() and carol not in r.getMessage() for r in caplog.records)


def test_an_admins_retry_and_repair_are_audited(stack, caplog):
    from tests.conftest import ApiClient

    api = ApiClient(create_app(stack.container))
    r = api.post("/api/tickets", "alice", json={"title": "Laptop"})
    tid = r.json["id"]
    assert api.post(f"/api/tickets/{tid}/submit", "alice").status_code == 200
    assert stack.engine.cancel(tid, "stopped in the engine") is True
    caplog.set_level(logging.INFO, logger="pflow.audit")
    assert api.post(f"/api/tickets/{tid}/reconcile", "bob").status_code == 403
    assert api.post(f"/api/tickets/{tid}/reconcile", "carol").status_code == 200
    assert api.post(f"/api/tickets/{tid}/retry", "carol", json={"comment": "start over"}).status_code == 200
    events = [e for e in lines(caplog, "pflow.audit") if e["event"].startswith("ticket.")]
    assert [(e["event"], e["username"], e["ticket_id"]) for e in events] == [
        ("ticket.reconcile", "carol", tid), ("ticket.retry", "carol", tid)]
