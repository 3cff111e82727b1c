"""Single sign-on through an OpenID Connect provider (``OIDC_*`` settings).

The browser flow runs through PFlow's API (a "backend for frontend"), so no token ever reaches a script:

1. ``GET /api/auth/oidc/login?next=/tasks`` makes a state, a nonce and a PKCE code verifier, keeps them in a
   short-lived signed cookie (httpOnly; any API process can read it back) and redirects to the provider.
2. The provider sends the browser back to ``GET /api/auth/oidc/callback`` with a code. PFlow checks the state,
   exchanges the code (with the verifier), validates the ID token, and sets the same session cookies a password
   login sets, naming the user and the groups the provider listed. Then it redirects to ``next``.
3. ``GET /api/auth/oidc/logout`` (after ``POST /api/auth/logout``) ends the provider's session too.

Anything that goes wrong sends the browser to ``/login?sso_error=<key>`` and leaves an audit line.
API clients may instead send the provider's access tokens as bearer tokens.
"""

from __future__ import annotations

import logging
import secrets

from flask import current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pflow.adapters.oidc import OidcIdentityProvider
from pflow.domain.errors import NotFound, ServiceUnavailable
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.auth import (
    _secure_cookies, clear_session_cookies, issue_token, set_session_cookies,
)
from pflow.entrypoints.http.context import container
from pflow.entrypoints.http.errors import Unauthorized
from pflow.entrypoints.http.parsing import Blueprint
from pflow.ports.identity import IdentityError, IdentityProviderUnavailable

blp = Blueprint("sso", __name__, url_prefix="/api/auth/oidc",
                description="Single sign-on through the identity provider (browser redirects)")

FLOW_COOKIE = "pflow_sso"
ID_TOKEN_COOKIE = "pflow_idt"
FLOW_SALT = "pflow.sso.v1"
FLOW_MAX_AGE_S = 600  # a sign-in at the provider must finish within ten minutes


def provider() -> OidcIdentityProvider:
    settings = container().settings().oidc
    if settings is None:
        raise NotFound("Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID).", key="sso.off")
    extensions = current_app.extensions
    current = extensions.get("pflow.oidc")
    if current is None or current.settings is not settings:
        current = extensions["pflow.oidc"] = OidcIdentityProvider(settings)
    return current


def user_from_access_token(token: str):
    """The user a provider-issued bearer token names, or 401 saying why."""
    try:
        return provider().user_from_access_token(token)
    except IdentityProviderUnavailable as exc:
        raise ServiceUnavailable("identity provider", str(exc), key="sso.unavailable",
                                 public_message="The identity provider cannot be reached; try again soon.") from None
    except IdentityError as exc:
        key = "auth.session_expired" if exc.key == "sso.expired" else "auth.invalid_token"
        raise Unauthorized(f"The identity provider's token is not accepted: {exc}", key) from None


def _flow_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=FLOW_SALT)


def _redirect_uri() -> str:
    return container().settings().oidc.redirect_uri or f"{request.host_url}api/auth/oidc/callback"


def _local_path(value: str | None) -> str:
    """Only a path on this site (no open redirect to another one). Browsers drop tabs and line breaks from a
    Location and read a backslash as a slash, so a slash, a tab and ``/evil.example`` would be ``//evil.example``:
    with any of those, or any other control character or a space, it is the start page."""
    if not value or not value.startswith("/") or "\\" in value or any(ord(c) <= 32 or ord(c) == 127 for c in value):
        return "/"
    if value.startswith("//") or len(value) > 2000:
        return "/"
    return value


def _to_login(key: str, reason: str | None = None, detail: str | None = None):
    """Back to the login page saying why (``key``), with an audit line for the refused sign-in."""
    fields = {"reason": reason or key, **({"detail": detail} if detail else {})}
    audit.event("sso.failure", logging.WARNING, **fields)
    response = redirect(f"/login?sso_error={key}", 302)
    response.delete_cookie(FLOW_COOKIE, path="/api/auth/oidc")
    return response


@blp.route("/login", endpoint="login")
@blp.doc(security=[])
@blp.response(302)
@blp.errors(404, e404="Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID)")
def login():
    """Start single sign-on: redirects to the identity provider's login page. ``next``: the page to come back to."""
    idp = provider()
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    try:
        url = idp.authorization_url(_redirect_uri(), state, nonce, verifier)
    except IdentityProviderUnavailable as exc:
        return _to_login("sso.unavailable", "unavailable", str(exc))
    response = redirect(url, 302)
    flow = _flow_serializer().dumps({"s": state, "n": nonce, "v": verifier,
                                     "next": _local_path(request.args.get("next"))})
    # SameSite=Lax: the provider's redirect back is a top-level navigation from its site
    response.set_cookie(FLOW_COOKIE, flow, max_age=FLOW_MAX_AGE_S, path="/api/auth/oidc", httponly=True,
                        secure=_secure_cookies(), samesite="Lax")
    return response


@blp.route("/callback", endpoint="callback")
@blp.doc(security=[])
@blp.response(302)
@blp.errors(404, e404="Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID)")
def callback():
    """Where the identity provider sends the browser back: validates everything, signs the user in (session
    cookies) and redirects to the page the sign-in started from; on any failure to ``/login?sso_error=<key>``."""
    idp = provider()
    try:
        flow = _flow_serializer().loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_MAX_AGE_S)
    except BadSignature:
        return _to_login("sso.state_mismatch", "no_flow")
    if request.args.get("error"):
        return _to_login("sso.refused", "provider_error", request.args.get("error"))
    if not secrets.compare_digest(request.args.get("state", ""), flow.get("s", "")):
        return _to_login("sso.state_mismatch", "state_mismatch")
    code = request.args.get("code", "")
    if not code:
        return _to_login("sso.refused", "no_code")
    try:
        signed_in = idp.complete(code, _redirect_uri(), flow["v"], flow["n"])
    except IdentityError as exc:
        return _to_login(exc.key, exc.key, str(exc))
    user = signed_in.user
    audit.event("login.success", username=user.username, method="sso", groups=",".join(sorted(user.groups)))
    response = redirect(flow.get("next") or "/", 302)
    response.delete_cookie(FLOW_COOKIE, path="/api/auth/oidc")
    set_session_cookies(response, issue_token(user.username, sso_user=user))
    response.set_cookie(ID_TOKEN_COOKIE, signed_in.id_token, max_age=current_app.config["PFLOW_TOKEN_TTL"],
                        path="/api/auth/oidc", httponly=True, secure=_secure_cookies(), samesite="Strict")
    return response


@blp.route("/logout", endpoint="logout")
@blp.doc(security=[])
@blp.response(302)
@blp.errors(404, e404="Single sign-on is not configured (OIDC_ISSUER, OIDC_CLIENT_ID)")
def logout():
    """End the identity provider's session too (RP-initiated logout), then back to PFlow's login page. Call it
    after ``POST /api/auth/logout``, which revokes PFlow's own session."""
    back = f"{request.host_url}login"
    url = provider().logout_url(request.cookies.get(ID_TOKEN_COOKIE) or None, back) or "/login"
    response = redirect(url, 302)
    response.delete_cookie(ID_TOKEN_COOKIE, path="/api/auth/oidc", httponly=True, samesite="Strict")
    clear_session_cookies(response)
    audit.event("logout", method="sso")
    return response
