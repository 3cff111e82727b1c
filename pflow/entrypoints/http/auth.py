"""Login with a signed, expiring bearer token (itsdangerous, which Flask ships)."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pflow.domain.errors import NotFound
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.errors import Unauthorized
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import LoginResultSchema, LoginSchema, UserSchema

blp = Blueprint("auth", __name__, url_prefix="/api", description="Log in and find out who you are")

SALT = "pflow.auth.v1"
# Routes under /api that need no token.
PUBLIC_ENDPOINTS = {"auth.Login", "auth.DemoUsers", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_ui_assets"}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def issue_token(username: str) -> str:
    return _serializer().dumps({"u": username})


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
    g.user = user


@blp.route("/auth/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, LoginResultSchema)
    @blp.errors(400, 401, e401="Wrong username or password")
    def post(self, credentials):
        """Exchange a username and password for a bearer token."""
        user = container().users().authenticate(credentials["username"], credentials["password"])
        if user is None:
            audit.login_failed(credentials["username"], container().users())
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
