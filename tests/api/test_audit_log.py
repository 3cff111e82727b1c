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
