"""Single sign-on against a real Keycloak (deploy/keycloak-dev/keycloak-dev.sh up, the realm of
deploy/keycloak/pflow-realm.json with test users): the authorization code flow through Keycloak's own login form,
API calls with the access tokens Keycloak issues, groups from Keycloak deciding who sees which task, expired and
foreign tokens refused, a group removed in Keycloak taking effect at the next sign-in, and logout at Keycloak.

The browser version of the sign-in runs in Chromium (frontend/e2e/sso.test.mjs)."""

from __future__ import annotations

import html
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from pflow.config import OidcSettings
from pflow.entrypoints.http import create_app
from tests.support import build_stack, require_service

pytestmark = pytest.mark.keycloak

KEYCLOAK = os.environ.get("KEYCLOAK_URL", "http://127.0.0.1:8180").rstrip("/")
ISSUER = f"{KEYCLOAK}/realms/pflow"
SECRET = os.environ.get("KEYCLOAK_CLIENT_SECRET", "pflow-dev-client-secret")
ADMIN_PASSWORD = os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin-dev-only")


def password_of(username: str) -> str:
    return f"{username}-pass-1"


@pytest.fixture(scope="module")
def keycloak():
    require_service("Keycloak", lambda: requests.get(f"{ISSUER}/.well-known/openid-configuration",
                                                     timeout=3).raise_for_status(),
                    "run `deploy/keycloak-dev/keycloak-dev.sh up`")
    return ISSUER


@pytest.fixture
def sso(keycloak, tmp_path):
    oidc = OidcSettings(issuer=keycloak, client_id="pflow", client_secret=SECRET,
                        group_map=(("approvers", "managers"),), name="Keycloak")
    stack = build_stack("memory", tmp_path, oidc=oidc)
    app = create_app(stack.container)
    yield app
    stack.close()


def access_token(username: str, realm: str = "pflow", client_id: str = "pflow", secret: str | None = SECRET) -> str:
    data = {"grant_type": "password", "client_id": client_id, "username": username,
            "password": password_of(username) if realm == "pflow" else ADMIN_PASSWORD, "scope": "openid"}
    if secret:
        data["client_secret"] = secret
    r = requests.post(f"{KEYCLOAK}/realms/{realm}/protocol/openid-connect/token", data=data, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_in(app, username: str, next_path: str = "/tasks", keycloak_session: requests.Session | None = None):
    """The browser's way in: PFlow → Keycloak's login form → PFlow's callback. Returns the PFlow client (with its
    session cookies), the callback's answer and the Keycloak session."""
    client = app.test_client()
    start = client.get(f"/api/auth/oidc/login?next={next_path}")
    assert start.status_code == 302, start.data
    assert start.headers["Location"].startswith(f"{ISSUER}/protocol/openid-connect/auth?")
    kc = keycloak_session or requests.Session()
    page = kc.get(start.headers["Location"], allow_redirects=False, timeout=10)
    if page.status_code == 302:  # already signed in at Keycloak: straight back
        back = page.headers["Location"]
    else:
        form = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        assert form, page.text[:2000]
        _plain_http_cookies(kc)
        posted = kc.post(html.unescape(form.group(1)), allow_redirects=False, timeout=10,
                         data={"username": username, "password": password_of(username), "credentialId": ""})
        assert posted.status_code == 302, posted.text[:2000]
        back = posted.headers["Location"]
    parts = urlsplit(back)
    assert parts.path == "/api/auth/oidc/callback", back
    done = client.get(f"{parts.path}?{parts.query}")
    return client, done, kc


def _plain_http_cookies(kc: requests.Session) -> None:
    """Keycloak marks its cookies Secure; browsers send those to http://127.0.0.1 (a trustworthy origin), requests
    does not: let it, as the browser would."""
    for cookie in kc.cookies:
        cookie.secure = False


def csrf(client) -> dict:
    return {"X-CSRF-Token": client.get_cookie("pflow_csrf").value}


def test_sign_in_through_keycloak_s_login_form(sso):
    client, done, _ = sign_in(sso, "mia", "/tasks")
    assert done.status_code == 302 and done.headers["Location"] == "/tasks"
    me = client.get("/api/me")
    assert me.status_code == 200, me.json
    assert me.json["username"] == "mia" and me.json["display_name"] == "Mia Manager"
    assert "managers" in me.json["groups"] and "manager" in me.json["roles"]
    # the session is PFlow's own (httpOnly cookie), and revocable
    assert client.post("/api/auth/logout", headers=csrf(client)).status_code == 204
    assert client.get("/api/me").status_code == 401


def test_keycloak_s_access_tokens_call_the_api_and_its_groups_decide_the_tasks(sso):
    api = sso.test_client(use_cookies=False)
    kim, noah, fay, ada = (access_token(u) for u in ("kim", "noah", "fay", "ada"))
    r = api.post("/api/tickets", headers=bearer(kim),
                 json={"title": "Laptop", "amount": 900, "description": "For the new hire."})
    assert r.status_code == 201, r.json
    ticket_id = r.json["id"]
    assert api.post(f"/api/tickets/{ticket_id}/submit", headers=bearer(kim)).status_code == 200
    # noah is in Keycloak's "approvers", which OIDC_GROUP_MAP maps to the "managers" the process names
    inbox = api.get("/api/tasks", headers=bearer(noah)).json["items"]
    mine = [t for t in inbox if t["ticket"]["id"] == ticket_id]
    assert len(mine) == 1 and mine[0]["name"] == "Manager Approval"
    assert [t for t in api.get("/api/tasks", headers=bearer(fay)).json["items"] if t["ticket"]["id"] == ticket_id] == []
    # fay may not decide it; noah may
    r = api.post(f"/api/tasks/{mine[0]['id']}/complete", headers=bearer(fay), json={"variables": {"approved": True}})
    assert r.status_code in (403, 404), r.json  # not hers: not even shown
    r = api.post(f"/api/tasks/{mine[0]['id']}/complete", headers=bearer(noah),
                 json={"variables": {"approved": True}})
    assert r.status_code == 200, r.json
    after = api.get(f"/api/tickets/{ticket_id}", headers=bearer(kim)).json
    assert after["status"] in ("in_progress", "approved", "completed"), after["status"]
    assert not [s for s in after["steps"] if s["name"] == "Manager Approval"]
    # ada is in Keycloak's "admins": a PFlow admin
    assert "admin" in api.get("/api/me", headers=bearer(ada)).json["roles"]


def test_an_expired_or_foreign_token_is_401(sso):
    api = sso.test_client(use_cookies=False)
    token = access_token("kim")
    assert api.get("/api/me", headers=bearer(token)).status_code == 200
    # the same real token, an hour later
    provider = sso.extensions["pflow.oidc"]
    real_clock = provider._clock
    provider._clock = lambda: real_clock() + 3600
    try:
        r = api.get("/api/me", headers=bearer(token))
        assert r.status_code == 401 and r.json["error"]["key"] == "auth.session_expired"
    finally:
        provider._clock = real_clock
    # a token from another realm of the same Keycloak (another issuer, other keys)
    other_realm = access_token("admin", realm="master", client_id="admin-cli", secret=None)
    r = api.get("/api/me", headers=bearer(other_realm))
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.invalid_token"
    # a token shaped like Keycloak's, signed by someone else's key
    forger = RSAKey.generate_key(2048, parameters={"kid": "forged"}, private=True)
    forged = jwt.encode({"alg": "RS256", "kid": "forged"},
                        {"iss": ISSUER, "aud": "pflow", "exp": int(time.time()) + 300, "typ": "Bearer",
                         "preferred_username": "ada", "groups": ["admins"]}, forger)
    r = api.get("/api/me", headers=bearer(forged))
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.invalid_token"


def _admin() -> requests.Session:
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {access_token('admin', realm='master', client_id='admin-cli', secret=None)}"
    return admin


def _membership(admin, username, group, member: bool):
    base = f"{KEYCLOAK}/admin/realms/pflow"
    user_id = admin.get(f"{base}/users", params={"username": username, "exact": "true"}, timeout=10).json()[0]["id"]
    group_id = [g for g in admin.get(f"{base}/groups", params={"search": group}, timeout=10).json()
                if g["name"] == group][0]["id"]
    call = admin.put if member else admin.delete
    r = call(f"{base}/users/{user_id}/groups/{group_id}", timeout=10)
    assert r.status_code == 204, r.text


def test_a_group_removed_in_keycloak_takes_effect_at_the_next_sign_in(sso):
    client, _, _ = sign_in(sso, "mia")
    assert "managers" in client.get("/api/me").json["groups"]
    admin = _admin()
    _membership(admin, "mia", "managers", member=False)
    try:
        again, _, _ = sign_in(sso, "mia")
        me = again.get("/api/me").json
        assert "managers" not in me["groups"] and "manager" not in me["roles"]
    finally:
        _membership(admin, "mia", "managers", member=True)


def test_a_callback_that_does_not_match_the_sign_in_it_answers_is_refused(sso):
    client = sso.test_client()
    assert client.get("/api/auth/oidc/login").status_code == 302
    r = client.get("/api/auth/oidc/callback?state=forged&code=whatever")
    assert r.status_code == 302 and r.headers["Location"] == "/login?sso_error=sso.state_mismatch"
    assert client.get("/api/me").status_code == 401
    # without having started a sign-in here at all (a login link sent by someone else)
    r = sso.test_client().get("/api/auth/oidc/callback?state=x&code=y")
    assert r.headers["Location"] == "/login?sso_error=sso.state_mismatch"


def test_next_never_leads_to_another_site(sso):
    for target in ("https://evil.example.test/", "//evil.example.test/", "/\\evil.example.test"):
        client, done, _ = sign_in(sso, "kim", target)
        assert done.headers["Location"] == "/", target


def test_logout_ends_the_keycloak_session_too(sso):
    client, _, kc = sign_in(sso, "kim")
    assert client.post("/api/auth/logout", headers=csrf(client)).status_code == 204
    out = client.get("/api/auth/oidc/logout")
    assert out.status_code == 302
    location = out.headers["Location"]
    assert location.startswith(f"{ISSUER}/protocol/openid-connect/logout?") and "id_token_hint=" in location
    _plain_http_cookies(kc)
    ended = kc.get(location, allow_redirects=False, timeout=10)
    assert ended.status_code == 302 and ended.headers["Location"] == "http://localhost/login"
    # signed out at Keycloak: the next sign-in meets its login form again
    start = sso.test_client().get("/api/auth/oidc/login")
    _plain_http_cookies(kc)
    page = kc.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'id="kc-form-login"' in page.text
