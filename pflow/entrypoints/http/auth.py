"""Login with a signed, expiring bearer token (itsdangerous, which Flask ships)."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pflow.domain.errors import NotFound, PermissionDenied
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.errors import TooManyAttempts, Unauthorized
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import LoginResultSchema, LoginSchema, UserSchema
from pflow.service.login import LoginLocked

blp = Blueprint("auth", __name__, url_prefix="/api", description="Log in and find out who you are")

SALT = "pflow.auth.v1"
# Routes under /api that need no token.
PUBLIC_ENDPOINTS = {"auth.Login", "auth.DemoUsers", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_ui_assets"}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_token(username: str) -> str:
    """A token naming the user and their token generation: bumping the generation revokes it."""
    return _serializer().dumps({"u": username, "g": container().login_guard().token_generation(username)})


def user_dict(user) -> dict:
    return {"username": user.username, "display_name": user.display_name, "roles": sorted(user.roles),
            "groups": sorted(user.groups)}


def authenticate_request() -> None:
    """Before every /api request: resolve the bearer token to a user, or refuse with 401."""
    if not request.path.startswith("/api") or request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    if request.routing_exception is not None:
        return  # no such route or method (404/405): nothing to protect, and the answer says what is wrong
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Log in first: send 'Authorization: Bearer <token>' (POST /api/auth/login).",
                           "auth.login_required")
    try:
        data = _serializer().loads(token.strip(), max_age=current_app.config["PFLOW_TOKEN_TTL"])
    except SignatureExpired:
        raise Unauthorized("Your session has expired; log in again.", "auth.session_expired") from None
    except BadSignature:
        raise Unauthorized("The token is not valid; log in again.", "auth.invalid_token") from None
    user = container().users().get(data.get("u", "")) if isinstance(data, dict) else None
    if user is None:
        raise Unauthorized("The token's user no longer exists.", "auth.user_gone")
    # a logout or an admin's revoke bumps the generation (cached per process for at most a second)
    if data.get("g", 0) != container().login_guard().token_generation(user.username):
        raise Unauthorized("This session was signed out; log in again.", "auth.session_revoked")
    g.user = user


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
        return {"token": issue_token(user.username), "expires_in": current_app.config["PFLOW_TOKEN_TTL"],
                "user": user_dict(user)}


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
    @blp.response(200, UserSchema)
    @blp.errors(401)
    def get(self):
        """The logged-in user."""
        return user_dict(current_user())


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @blp.errors(401)
    def post(self):
        """Sign out: revoke every token issued so far for the caller (on every device)."""
        container().login_guard().revoke(current_user().username)
        audit.logged_out(current_user())


@blp.route("/users/<username>/revoke")
class RevokeUser(MethodView):
    @blp.response(204)
    @blp.errors(401, 403, 404)
    def post(self, username):
        """Admins: revoke every token issued so far for a user (they must log in again)."""
        if not current_user().is_admin:
            raise PermissionDenied("Only an admin can revoke a user's sessions.", key="auth.admins_only")
        if container().users().get(username) is None:
            raise NotFound(f"No user {username!r}.", key="error.not_found")
        container().login_guard().revoke(username)
        audit.sessions_revoked(current_user(), username)
