"""Login with a signed, expiring token (itsdangerous, which Flask ships), sent as a bearer token by API clients
and kept by browsers in an httpOnly cookie, out of reach of scripts.

- ``Authorization: Bearer <token>``: a token from ``POST /api/auth/login``, or, with single sign-on configured,
  an access token the identity provider issued (validated against its keys; see ``sso``).
- The ``pflow_session`` cookie (httpOnly, ``SameSite=Strict``), set by a login or a single sign-on: requests that
  change something must also send ``X-CSRF-Token`` with the value of the ``pflow_csrf`` cookie, which is derived
  from the session, so another site can neither read nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from flask import current_app, g, request
from flask.views import MethodView
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pflow.domain.errors import NotFound, PermissionDenied
from pflow.domain.users import User
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.errors import TooManyAttempts, Unauthorized
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import LoginResultSchema, LoginSchema, MeSchema, ProvidersSchema, UserSchema
from pflow.service.login import LoginLocked

blp = Blueprint("auth", __name__, url_prefix="/api", description="Log in and find out who you are")

SALT = "pflow.auth.v1"
SESSION_COOKIE = "pflow_session"
CSRF_COOKIE = "pflow_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Routes under /api that need no token.
PUBLIC_ENDPOINTS = {"auth.Login", "auth.DemoUsers", "auth.Providers", "sso.login", "sso.callback", "sso.logout",
                    "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_ui_assets"}
# Routes whose credential is in their address, a signed one-time token, not a login: no session and so no CSRF
# header (the decide-from-e-mail pages; a forged form would need the token). Outside /api anyway, named so that
# moving them cannot silently put them behind the login.
TOKEN_ENDPOINTS = {"email_actions.page", "email_actions.stylesheet"}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_token(username: str, sso_user=None) -> str:
    """A token naming the user and their token generation: bumping the generation revokes it. A user signed in
    through the identity provider is not in the users file: the token carries who they are (name, groups, roles)
    as the provider said at sign-in, so a group removed there takes effect at the next sign-in."""
    data = {"u": username, "g": container().login_guard().token_generation(username)}
    if sso_user is not None:
        data.update(s="sso", n=sso_user.display_name, gr=sorted(sso_user.groups), r=sorted(sso_user.roles))
    else:
        data["c"] = credential_stamp(username)
    return _serializer().dumps(data)


def credential_stamp(username: str) -> str | None:
    """A keyed digest of the user's password hash: a token carries it, so a password changed in the users file
    ends every session that was opened with the old one (the digest reveals nothing about the hash)."""
    version = container().users().credential_version(username)
    if version is None:
        return None
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"credential:" + version.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session: derived from it with the signing key (nobody else can make it)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def _secure_cookies() -> bool:
    """Cookies are ``Secure`` when the browser talks HTTPS to PFlow (directly or to nginx in front of it)."""
    if request.is_secure:
        return True
    return container().settings().proxy_hops > 0 and request.headers.get("X-Forwarded-Proto", "") == "https"


def set_session_cookies(response, token: str) -> None:
    ttl = current_app.config["PFLOW_TOKEN_TTL"]
    secure = _secure_cookies()
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, path="/api", secure=secure, httponly=True,
                        samesite="Strict")
    response.set_cookie(CSRF_COOKIE, csrf_token(token), max_age=ttl, path="/", secure=secure, httponly=False,
                        samesite="Strict")


def clear_session_cookies(response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/api", httponly=True, samesite="Strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="Strict")


def _looks_like_provider_token(token: str) -> bool:
    """A JWT (its first part is a JOSE header naming an algorithm), not one of PFlow's own tokens."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


def user_dict(user) -> dict:
    return {"username": user.username, "display_name": user.display_name, "roles": sorted(user.roles),
            "groups": sorted(user.groups)}


def authenticate_request() -> None:
    """Before every /api request: resolve the bearer token to a user, or refuse with 401."""
    if request.endpoint in TOKEN_ENDPOINTS:
        return
    if not request.path.startswith("/api") or request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    if request.routing_exception is not None:
        return  # no such route or method (404/405): nothing to protect, and the answer says what is wrong
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if header:
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send 'Authorization: Bearer <token>' (POST /api/auth/login).", "auth.login_required")
        if container().settings().oidc is not None and _looks_like_provider_token(token):
            from pflow.entrypoints.http.sso import user_from_access_token
            g.user, g.signed_in_with_sso = user_from_access_token(token), True
            return
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token:
            raise Unauthorized("Log in first: send 'Authorization: Bearer <token>' (POST /api/auth/login).",
                               "auth.login_required")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, ""), csrf_token(token)):
            raise Unauthorized(f"A request that changes something must send the {CSRF_HEADER} header with the "
                               f"value of the {CSRF_COOKIE} cookie.", "auth.csrf")
    try:
        data = _serializer().loads(token, max_age=current_app.config["PFLOW_TOKEN_TTL"])
    except SignatureExpired:
        raise Unauthorized("Your session has expired; log in again.", "auth.session_expired") from None
    except BadSignature:
        raise Unauthorized("The token is not valid; log in again.", "auth.invalid_token") from None
    user = _token_user(data)
    if user is None:
        raise Unauthorized("The token's user no longer exists.", "auth.user_gone")
    # a logout or an admin's revoke bumps the generation (cached per process for at most a second)
    if data.get("g", 0) != container().login_guard().token_generation(user.username):
        raise Unauthorized("This session was signed out; log in again.", "auth.session_revoked")
    if data.get("s") != "sso" and not hmac.compare_digest(str(data.get("c")), str(credential_stamp(user.username))):
        raise Unauthorized("The password was changed since this session began; log in again.",
                           "auth.session_revoked")
    g.user, g.signed_in_with_sso = user, data.get("s") == "sso"


def _token_user(data):
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    if data.get("s") == "sso":
        if container().settings().oidc is None:
            return None  # single sign-on was turned off: its sessions end
        return User(data["u"], data.get("n") or data["u"], frozenset(data.get("r") or ()),
                    frozenset(data.get("gr") or ()))
    return container().users().get(data["u"])


def client_address() -> str | None:
    """The client's address for login throttling: behind ``PFLOW_PROXY_HOPS`` proxies, the address the
    outermost of them saw (X-Forwarded-For, counted from the right so a client cannot choose it)."""
    hops = container().settings().proxy_hops
    if hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr


@blp.route("/auth/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, LoginResultSchema)
    @blp.errors(400, 401, 429, 503, e401="Wrong username or password",
                e503="Too many logins are being checked at once, or the database is down; retry after Retry-After",
                e429="Too many failed logins for this username or address: locked for a while (`Retry-After`)")
    def post(self, credentials):
        """Exchange a username and password for a bearer token.

        After too many failed logins for a username or from an address, logins for it are refused with 429
        (key `auth.locked`, `Retry-After` in seconds) until the lockout ends, without looking at the password."""
        try:
            attempt = container().login_guard().attempt(credentials["username"], credentials["password"],
                                                        client_address())
        except LoginLocked as locked:
            audit.login_locked(credentials["username"], locked.retry_after_s)
            raise TooManyAttempts(locked.retry_after_s) from None
        user = attempt.user
        if user is None:
            audit.login_failed(credentials["username"], container().users())
            if attempt.locked:
                audit.locked_out(credentials["username"], attempt.locked, attempt.locked_until)
            raise Unauthorized("Wrong username or password.", "auth.login_failed")
        audit.login_succeeded(user)
        token = issue_token(user.username)
        # browsers keep the session in the httpOnly cookie; API clients use the token in the body
        g.pflow_set_session = token
        return {"token": token, "expires_in": current_app.config["PFLOW_TOKEN_TTL"], "user": user_dict(user)}


def demo_users_enabled(settings) -> bool:
    """Mirrors the container's choice of user directory: demo users only when no users file is configured."""
    return settings.demo_users_active


@blp.route("/auth/demo-users")
class DemoUsers(MethodView):
    @blp.doc(security=[])
    @blp.response(200, UserSchema(many=True))
    @blp.errors(404, e404="Demo users are off (a users file is configured)")
    def get(self):
        """The demo accounts (password = username), so the login screen can offer them; 404 when they are off."""
        if not demo_users_enabled(container().settings()):
            raise NotFound("Demo users are not enabled.", key="auth.demo_users_off")
        return [user_dict(user) for user in container().users().list_users()]


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.errors(401)
    def get(self):
        """The logged-in user."""
        return {**user_dict(current_user()), "sso": bool(g.get("signed_in_with_sso"))}


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @blp.errors(401)
    def post(self):
        """Sign out: revoke every token issued so far for the caller (on every device) and clear the session
        cookies. A user who signed in through the identity provider then goes to ``GET /api/auth/oidc/logout``
        to end the provider's session too."""
        container().login_guard().revoke(current_user().username)
        g.pflow_clear_session = True
        audit.logged_out(current_user())


@blp.route("/users/<username>/revoke")
class RevokeUser(MethodView):
    @blp.response(204)
    @blp.errors(401, 403, 404)
    def post(self, username):
        """Admins: revoke every token issued so far for a user (they must log in again)."""
        if not current_user().is_admin:
            raise PermissionDenied("Only an admin can revoke a user's sessions.", key="auth.admins_only")
        if container().users().get(username) is None and container().settings().oidc is None:
            raise NotFound(f"No user {username!r}.", key="error.not_found")
        container().login_guard().revoke(username)
        audit.sessions_revoked(current_user(), username)


@blp.route("/auth/providers")
class Providers(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ProvidersSchema)
    def get(self):
        """How to sign in here: with a password (always, for local users) and, when configured, single sign-on."""
        oidc = container().settings().oidc
        return {"password": True,
                "sso": {"name": oidc.name, "login_url": "/api/auth/oidc/login"} if oidc is not None else None}


def session_cookies(response):
    """After every request: set or clear the session cookies a login or logout asked for."""
    token = g.get("pflow_set_session")
    if token and response.status_code < 400:
        set_session_cookies(response, token)
    elif g.get("pflow_clear_session") and response.status_code < 400:
        clear_session_cookies(response)
    return response
