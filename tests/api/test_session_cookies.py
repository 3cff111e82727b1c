"""Browsers keep the session in an httpOnly cookie, out of reach of scripts; a request that changes something
with that cookie must prove it comes from PFlow's own page (X-CSRF-Token, derived from the session)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from pflow.entrypoints.http import create_app


@pytest.fixture
def browser(memory_stack):
    return create_app(memory_stack.container).test_client()  # keeps cookies, like a browser


def cookies_of(response) -> dict[str, str]:
    jar = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar.update({name: header for name in SimpleCookie(header)})
    return jar


def log_in(browser, username="alice"):
    r = browser.post("/api/auth/login", json={"username": username, "password": username})
    assert r.status_code == 200, r.json
    return r


def csrf(browser) -> str:
    return browser.get_cookie("pflow_csrf").value


def test_a_login_sets_an_httponly_strict_session_cookie_and_a_readable_csrf_cookie(browser):
    set_cookies = cookies_of(log_in(browser))
    session = set_cookies["pflow_session"]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/api" in session
    token_cookie = set_cookies["pflow_csrf"]
    assert "HttpOnly" not in token_cookie and "SameSite=Strict" in token_cookie


def test_cookies_are_secure_behind_https(memory_stack):
    settings = memory_stack.settings.replace(proxy_hops=1)
    memory_stack.container.settings.override(settings)
    try:
        client = create_app(memory_stack.container).test_client()
        r = client.post("/api/auth/login", json={"username": "alice", "password": "alice"},
                        headers={"X-Forwarded-Proto": "https"})
        assert all("Secure" in c for c in cookies_of(r).values())
    finally:
        memory_stack.container.settings.reset_override()


def test_the_cookie_reads_and_with_the_csrf_token_writes(browser):
    log_in(browser)
    assert browser.get("/api/me").json["username"] == "alice"
    r = browser.post("/api/tickets", json={"title": "Laptop", "amount": 900, "description": "For the new hire."},
                     headers={"X-CSRF-Token": csrf(browser)})
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("header", [None, "", "0" * 64, "forged"])
def test_a_change_without_the_right_csrf_token_is_refused_and_changes_nothing(browser, header):
    log_in(browser)
    headers = {} if header is None else {"X-CSRF-Token": header}
    r = browser.post("/api/tickets", json={"title": "Laptop", "amount": 900, "description": "For the new hire."},
                     headers=headers)
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.csrf"
    assert browser.get("/api/tickets").json["total"] == 0


def test_the_csrf_token_of_another_session_does_not_fit(memory_stack, browser):
    other = create_app(memory_stack.container).test_client()
    log_in(other, "bob")
    log_in(browser)
    r = browser.post("/api/tickets", json={"title": "Laptop", "amount": 900, "description": "For the new hire."},
                     headers={"X-CSRF-Token": csrf(other)})
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.csrf"


def test_a_bearer_token_needs_no_csrf_token(browser):
    token = log_in(browser).json["token"]
    browser.delete_cookie("pflow_session", path="/api")
    r = browser.post("/api/tickets", json={"title": "Laptop", "amount": 900, "description": "For the new hire."},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.json


def test_logout_clears_the_cookies_and_revokes_the_session(browser):
    log_in(browser)
    old = browser.get_cookie("pflow_session", path="/api").value
    r = browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(browser)})
    assert r.status_code == 204
    assert "Max-Age=0" in cookies_of(r)["pflow_session"] or "expires=Thu, 01 Jan 1970" in cookies_of(r)["pflow_session"]
    assert browser.get("/api/me").status_code == 401
    browser.set_cookie("pflow_session", old, path="/api")  # a copy of the old cookie is revoked too
    r = browser.get("/api/me")
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.session_revoked"


def test_a_failed_login_sets_no_cookie(browser):
    r = browser.post("/api/auth/login", json={"username": "alice", "password": "wrong"})
    assert r.status_code == 401 and "pflow_session" not in cookies_of(r)


def test_without_single_sign_on_the_providers_say_password_only(browser):
    r = browser.get("/api/auth/providers")
    assert r.status_code == 200 and r.json == {"password": True, "sso": None}
    assert browser.get("/api/auth/oidc/login").status_code == 404
