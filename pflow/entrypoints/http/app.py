"""The Flask application factory."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, request, send_from_directory
from flask_smorest import Api

from pflow import __version__, tracing
from pflow.adapters.secret_key import EXAMPLE_SECRET_KEYS, check_secret_key, resolve_secret_key  # noqa: F401
from pflow.config import Settings
from pflow.container import Container, build_container
from pflow.entrypoints.http import (
    audit,
    auth,
    email_actions,
    engine_rest,
    health,
    metrics,
    notifications,
    oversight,
    preferences,
    security_headers,
    sso,
    substitutes,
    tickets,
    webhooks,
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
    api.register_blueprint(preferences.blp)
    api.register_blueprint(webhooks.blp)
    app.register_blueprint(health.blp)
    # Prometheus's /metrics (docs/metrics.md): outside /api and its OpenAPI document
    app.register_blueprint(metrics.blp)
    # Camunda 7's external-task REST (embedded engine only; its own basic authentication, outside /api's
    # tokens, CSRF and OpenAPI document)
    app.register_blueprint(engine_rest.blp)
    # the pages a task e-mail's decision links open (HTML; the link's signed token is the credential)
    app.register_blueprint(email_actions.blp)
    register_error_handlers(app)
    if settings.metrics_enabled:
        metrics.install_request_metrics(app)  # first: its clock covers everything after it
    audit.install_request_id(app)  # before the access log, whose line names the request id
    if settings.access_log:
        audit.install_access_log(app)  # first: its clock also covers the token check
    app.before_request(auth.authenticate_request)
    app.after_request(auth.session_cookies)
    security_headers.install(app)
    if tracing.active():
        install_tracing(app)

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


def install_tracing(app: Flask) -> None:
    """A server span per request (OpenTelemetry's Flask instrumentation; probes and scrapes left out),
    naming the ticket a route is about."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics,api/docs,assets")

    @app.before_request
    def _tag_ticket() -> None:
        ticket_id = (request.view_args or {}).get("ticket_id")
        if ticket_id:
            tracing.tag_ticket(str(ticket_id))

    @app.after_request
    def _tag_created(response):
        if request.method == "POST" and request.url_rule is not None and request.url_rule.rule == "/api/tickets" \
                and response.status_code == 201 and response.is_json:
            tracing.tag_ticket((response.get_json(silent=True) or {}).get("id"))
        return response
