"""One table from domain errors to HTTP responses, and the JSON error body.

Every error leaves as ``{"error": {"code", "message", "details", "key", "params"}}`` (a 422 also with
``fields``); the keys are listed in ``error_keys``.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from pflow.domain import errors as e
from pflow.entrypoints.http import error_keys

log = logging.getLogger(__name__)

STATUS_FOR: list[tuple[type[e.DomainError], int]] = [
    (e.NotFound, 404),
    (e.PermissionDenied, 403),
    (e.InvalidTransition, 409),
    (e.ConcurrencyConflict, 409),
    (e.ValidationError, 422),
    (e.ServiceUnavailable, 503),
]

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
              429: "too_many_requests", 500: "internal_error", 503: "service_unavailable"}


class Unauthorized(Exception):
    """Missing, malformed, expired or forged credentials (``key``: which, see ``error_keys``)."""

    def __init__(self, message: str = "Authentication required.", key: str = "auth.login_required"):
        super().__init__(message)
        self.message = message
        self.key = key


class TooManyAttempts(Exception):
    """A login while its username or client address is locked out after too many failures (429)."""

    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s
        self.minutes = max(1, -(-retry_after_s // 60))
        super().__init__(f"Too many failed logins; try again in {self.minutes} minute(s).")
        self.message = str(self)


def status_for(error: e.DomainError) -> int:
    for cls, status in STATUS_FOR:
        if isinstance(error, cls):
            return status
    return 400


def error_response(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None,
                   *, key: str | None = None, params: dict | None = None, fields: dict | None = None):
    key, params = error_keys.checked(key, params, fallback=error_keys.HTTP_KEYS.get(status, "error.bad_request")) \
        if key else (error_keys.HTTP_KEYS.get(status, "error.bad_request"), {})
    body = {"code": code, "message": message, "details": details or {}, "key": key, "params": params}
    if status == 422:
        body["fields"] = fields if fields is not None else error_keys.field_errors(details or {})
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_validation(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {...}}, {"query": {...}}); callers want fields."""
    details: dict = {}
    for location, fields in (messages or {}).items():
        if isinstance(fields, dict):
            details.update(fields)
        else:
            details[location] = fields
    # A form's values ("fields" of a ticket, "variables" of a step) are named by their own field names, as
    # the service names them when it checks them against the form.
    for container in FORM_VALUE_KEYS:
        nested = details.get(container)
        if isinstance(nested, dict):
            del details[container]
            for name, errors in nested.items():
                if isinstance(errors, dict):  # marshmallow's Dict field: {"value": [...]} / {"key": [...]}
                    errors = [m for ms in errors.values() for m in (ms if isinstance(ms, list) else [ms])]
                details.setdefault(name, []).extend(errors if isinstance(errors, list) else [errors])
    return details


FORM_VALUE_KEYS = ("fields", "variables")


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    # Werkzeug's own headers (``Allow`` on a 405, which RFC 9110 requires) go out with our body.
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    if status == 422:
        details = _flatten_validation(data.get("messages") or data.get("errors") or {})
        return error_response(422, "validation_error", "The request has invalid fields.", details, headers,
                              key="validation.invalid")
    if status == 400 and data.get("messages"):
        details = _flatten_validation(data["messages"])
        json_error = "json" in data["messages"]
        message = "The request body is not valid JSON." if json_error else "Bad request."
        return error_response(400, "bad_request", message, details, headers,
                              key="http.invalid_json" if json_error else "error.bad_request")
    message = data.get("message") or error.description or error.name
    return error_response(status, HTTP_CODES.get(status, "error"), message, headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(e.DomainError)
    def _domain(error: e.DomainError):
        status = status_for(error)
        misconfigured = isinstance(error, e.EngineAccessDenied)  # a setting to fix: retrying soon does not help
        if misconfigured:
            log.error("dependency refuses PFlow: %s", error.message)
        elif status == 503:
            log.warning("dependency unavailable: %s", error.message)
        headers = {"Retry-After": "5"} if status == 503 and not misconfigured else None
        key, params = error_keys.domain_key(error)
        fields = None
        if status == 422 and not getattr(error, "about_fields", True):
            fields = {}  # its details are not about fields (e.g. the tasks to choose from)
        return error_response(status, error.code, error.public_message, error.details, headers, key=key,
                              params=params, fields=fields)

    @app.errorhandler(Unauthorized)
    def _unauthorized(error: Unauthorized):
        return error_response(401, "unauthorized", error.message, headers={"WWW-Authenticate": "Bearer"},
                              key=error.key)

    @app.errorhandler(TooManyAttempts)
    def _too_many(error: TooManyAttempts):
        return error_response(429, "too_many_requests", error.message, {"retry_after_s": error.retry_after_s},
                              headers={"Retry-After": str(error.retry_after_s)}, key="auth.locked",
                              params={"minutes": error.minutes})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return handle_http_exception(error)
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
