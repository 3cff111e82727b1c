"""The Flask application factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Api

from pflow import __version__
from pflow.adapters.database.engine import create_private_dir
from pflow.config import ConfigError, Settings
from pflow.container import Container, build_container
from pflow.entrypoints.http import (
    audit,
    auth,
    engine_rest,
    health,
    notifications,
    oversight,
    security_headers,
    sso,
    substitutes,
    tickets,
)
from pflow.entrypoints.http.errors import handle_http_exception, register_error_handlers
from pflow.entrypoints.http.parsing import IdConverter, id_parameter_schema
from pflow.entrypoints.http.schemas import ErrorSchema
from pflow.entrypoints.http.ui import ui_blueprint


class PFlowApi(Api):
    """flask-smorest's Api with PFlow's error body (``{"error": {code, message, details}}``), in the
    responses it sends and in the ones its document declares."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)


MIN_SECRET_KEY_BYTES = 32
#: keys shown as examples in the docs (README, docs/, .env.example): anyone could sign tokens with them
EXAMPLE_SECRET_KEYS = frozenset({"dev-secret", "local-debug-secret", "change-me", "changeme", "secret"})
MAKE_KEY_HINT = 'make one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'


def check_secret_key(key: str) -> None:
    """Refuse a signing key that is short or documented as an example (whoever knows it can forge any token)."""
    if key.strip() in EXAMPLE_SECRET_KEYS:
        raise ConfigError("PFLOW_SECRET_KEY is an example from the documentation; anyone who read it can forge "
                          f"tokens. Set a random key of at least {MIN_SECRET_KEY_BYTES} bytes: {MAKE_KEY_HINT}.")
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"PFLOW_SECRET_KEY is {len(key.encode())} bytes long; it must be at least "
                          f"{MIN_SECRET_KEY_BYTES} random bytes: {MAKE_KEY_HINT}.")


def resolve_secret_key(settings: Settings) -> str:
    """PFLOW_SECRET_KEY (long and not a documented example outside the embedded default); the embedded default
    generates one if none is given and keeps it under the data dir."""
    if settings.secret_key:
        if not settings.is_embedded_default:
            check_secret_key(settings.secret_key)
        return settings.secret_key
    if not settings.is_embedded_default:
        raise ConfigError("PFLOW_SECRET_KEY is not set. Every API process must sign tokens with the same secret: "
                          f"set it to a random key of at least {MIN_SECRET_KEY_BYTES} bytes: {MAKE_KEY_HINT}.")
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    create_private_dir(path.parent)
    key = secrets.token_hex(32)
    # owner-only from the start: written first and chmod-ed after, it was readable by anyone in between
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(key)
    path.chmod(0o600)
    return key


def create_app(container: Container | None = None, settings: Settings | None = None) -> Flask:
    container = container or build_container(settings)
    settings = container.settings()
    app = Flask("pflow", static_folder=None)
    app.config.update(
        SECRET_KEY=resolve_secret_key(settings),
        PFLOW_TOKEN_TTL=settings.token_ttl_s,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
        API_TITLE="PFlow",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",  # served locally: no CDN needed
        API_SPEC_OPTIONS={
            "info": {"description": "Ticket approval on a BPMN workflow engine. Log in with POST /api/auth/login, "
                                    "then send `Authorization: Bearer <token>` (or, with single sign-on, an access "
                                    "token from the identity provider). Browsers use the session cookie instead, "
                                    "and send `X-CSRF-Token` (the `pflow_csrf` cookie) with every change."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    app.extensions["pflow.container"] = container

    app.url_map.converters["id"] = IdConverter
    api = PFlowApi(app)
    api.register_converter(IdConverter, id_parameter_schema)
    api.register_blueprint(auth.blp)
    api.register_blueprint(sso.blp)
    api.register_blueprint(tickets.blp)
    api.register_blueprint(notifications.blp)
    api.register_blueprint(substitutes.blp)
    api.register_blueprint(oversight.blp)
    app.register_blueprint(health.blp)
    # Camunda 7's external-task REST (embedded engine only; its own basic authentication, outside /api's
    # tokens, CSRF and OpenAPI document)
    app.register_blueprint(engine_rest.blp)
    register_error_handlers(app)
    if settings.access_log:
        audit.install_access_log(app)  # first: its clock also covers the token check
    app.before_request(auth.authenticate_request)
    app.after_request(auth.session_cookies)
    security_headers.install(app)

    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get("/api/docs/assets/<path:filename>", endpoint="swagger_ui_assets")
    def swagger_ui_assets(filename: str):
        return send_from_directory(assets, filename, max_age=86400)

    if (settings.ui_dir / "index.html").is_file():
        app.register_blueprint(ui_blueprint(settings.ui_dir))
    else:
        @app.get("/")
        def no_ui():
            return {"name": "PFlow", "api": "/api", "docs": "/api/docs",
                    "ui": "not built: run `make run` (or `npm --prefix frontend run build`)"}
    return app
