"""`pflow send-test-email --to ADDRESS`: how a new user checks their SMTP settings, against a real SMTP server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pflow.entrypoints.cli import main
from tests.notify.smtp_server import SmtpServer

SMTP_VARIABLES = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM",
                  "SMTP_TIMEOUT_S")


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in SMTP_VARIABLES + ("DATABASE_URL", "RABBITMQ_URL", "WORKFLOW_ENGINE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PFLOW_DATA_DIR", str(tmp_path))

    def set_(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def _run(*args: str):
    return CliRunner().invoke(main, ["send-test-email", *args])


def test_without_smtp_host_it_says_which_variables_to_set(env):
    result = _run("--to", "me@example.com")
    assert result.exit_code == 1
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM"):
        assert name in result.output


def test_it_sends_through_a_local_relay(env):
    with SmtpServer() as server:
        env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(server.port), SMTP_SECURITY="none",
            SMTP_FROM="PFlow <pflow@example.com>")
        result = _run("--to", "me@example.com")
        assert result.exit_code == 0, result.output
        assert "Sent" in result.output and "me@example.com" in result.output
        [got] = server.wait_for(1)
        assert got.rcpt_tos == ["me@example.com"] and got.mail_from == "pflow@example.com"
        assert "PFlow" in got.subject and "\u6d4b\u8bd5\u90ae\u4ef6" in got.subject
        assert "SMTP settings work" in got.text and "\u6d4b\u8bd5\u90ae\u4ef6" in got.text
        assert f"127.0.0.1:{server.port}" in got.html


def test_it_sends_with_starttls_and_a_login(env):
    with SmtpServer(starttls=True, auth=("pflow", "s3cret")) as server:
        # the server's certificate is trusted the way an operator trusts a company CA: SSL_CERT_FILE
        env(SMTP_HOST="localhost", SMTP_PORT=str(server.port), SMTP_SECURITY="starttls",
            SMTP_USERNAME="pflow", SMTP_PASSWORD="s3cret", SSL_CERT_FILE=str(server.cert_path))
        result = _run("--to", "me@example.com")
        assert result.exit_code == 0, result.output
        [got] = server.wait_for(1)
        assert got.tls and got.authenticated_as == "pflow"


def test_a_wrong_password_is_named(env):
    with SmtpServer(starttls=True, auth=("pflow", "s3cret")) as server:
        env(SMTP_HOST="localhost", SMTP_PORT=str(server.port), SMTP_SECURITY="starttls",
            SMTP_USERNAME="pflow", SMTP_PASSWORD="wrong", SSL_CERT_FILE=str(server.cert_path))
        result = _run("--to", "me@example.com")
        assert result.exit_code == 1
        assert "SMTP_USERNAME" in result.output and "SMTP_PASSWORD" in result.output
        assert "wrong" not in result.output
        assert server.received == []


def test_a_server_that_is_down_is_named(env):
    server = SmtpServer()  # never started: nothing listens on its port
    try:
        env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(server.port), SMTP_SECURITY="none", SMTP_TIMEOUT_S="2")
        result = _run("--to", "me@example.com")
        assert result.exit_code == 1
        assert "not reachable" in result.output and f"127.0.0.1:{server.port}" in result.output
    finally:
        server.close()


def test_a_bad_address_is_refused(env):
    env(SMTP_HOST="127.0.0.1", SMTP_SECURITY="none")
    result = _run("--to", "not-an-address")
    assert result.exit_code == 1 and "not an e-mail address" in result.output
    assert _run().exit_code == 2  # --to is required
