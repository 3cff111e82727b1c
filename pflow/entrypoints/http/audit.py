"""Structured log lines: the authentication audit trail (logger ``pflow.audit``) and one access line per
request (logger ``pflow.access``, off with PFLOW_ACCESS_LOG=0).

Each message is one JSON object on one line (newlines and quotes in what a client sent are escaped, so a
user name cannot forge a line); the same fields ride on the record as ``record.audit`` / ``record.access``
for handlers that ship structured logs. Passwords and tokens are never logged."""

from __future__ import annotations

import json
import logging
import time

from flask import Flask, Response, g, request

from pflow.entrypoints.logs import new_request_id, request_id_var, valid_request_id

audit_log = logging.getLogger("pflow.audit")
access_log = logging.getLogger("pflow.access")

MAX_FIELD = 200  # what a client sent is cut to this many characters


def _clip(value: object) -> object:
    return value[:MAX_FIELD] if isinstance(value, str) else value


def client_address() -> str | None:
    """The peer's address (the proxy's, behind nginx: its X-Forwarded-For is logged next to it, untrusted)."""
    return request.remote_addr


def _request_fields() -> dict:
    fields = {"client": client_address()}
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        fields["forwarded_for"] = _clip(forwarded)
    return fields


def _emit(logger: logging.Logger, attribute: str, level: int, fields: dict) -> None:
    fields = {name: _clip(value) for name, value in fields.items()}
    logger.log(level, json.dumps(fields, ensure_ascii=False, default=str), extra={attribute: fields})


def event(name: str, level: int = logging.INFO, **fields) -> None:
    """One audit line: ``{"event": name, ...fields, "client": ..}``."""
    _emit(audit_log, "audit", level, {"event": name, **fields, **_request_fields()})


def login_succeeded(user) -> None:
    event("login.success", username=user.username)


def login_failed(username: str, users) -> None:
    """A refused login: which name was tried and why (never the password)."""
    reason = "unknown_user" if users.get(username) is None else "wrong_password"
    event("login.failure", logging.WARNING, username=username, reason=reason)


def locked_out(username: str, locked: tuple[str, ...], until) -> None:
    """This failed login reached the limit: the username and/or the client address is locked until ``until``."""
    event("login.lockout", logging.WARNING, username=username, reason="too_many_failures", locked=list(locked),
          until=until.isoformat() if until is not None else None)


def login_locked(username: str, retry_after_s: int) -> None:
    """A login refused unchecked because its username or address is locked."""
    event("login.locked", logging.WARNING, username=username, reason="locked", retry_after_s=retry_after_s)


def logged_out(user) -> None:
    event("logout", username=user.username)


def sessions_revoked(admin, username: str) -> None:
    """An admin revoked every session of ``username``."""
    event("sessions.revoke", username=username, by=admin.username)


def ticket_repaired(user, action: str, ticket_id: str) -> None:
    """An admin's repair of a ticket: ``retry`` (its failed step) or ``reconcile`` (in line with its process)."""
    event(f"ticket.{action}", username=user.username, ticket_id=ticket_id)


REQUEST_ID_HEADER = "X-Request-ID"


def _assign_request_id() -> None:
    """The request's id: the client's (or the proxy's) X-Request-ID when it is 1-128 printable characters,
    else a new one; every log line of the request carries it (``pflow.entrypoints.logs``)."""
    incoming = request.headers.get(REQUEST_ID_HEADER)
    g.request_id = incoming if valid_request_id(incoming) else new_request_id()
    g.request_id_token = request_id_var.set(g.request_id)


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _forget_request_id(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)


def install_request_id(app: Flask) -> None:
    """Before every other hook: each request gets an id, echoed in the response's X-Request-ID."""
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    app.teardown_request(_forget_request_id)


def _started() -> None:
    g.pflow_started = time.perf_counter()


def _finished(response: Response) -> Response:
    started = g.get("pflow_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    user = g.get("user")
    rule = request.url_rule
    _emit(access_log, "access", logging.INFO, {
        "method": request.method, "path": request.path, "route": rule.rule if rule is not None else None,
        "status": response.status_code, "duration_ms": duration_ms,
        "bytes": response.calculate_content_length() if not response.is_streamed else None,
        "user": user.username if user is not None else None, "request_id": g.get("request_id"),
        **_request_fields()})
    return response


def install_access_log(app: Flask) -> None:
    """One ``pflow.access`` line per request: method, path, route, status, duration_ms, bytes, user,
    request_id and the client address."""
    app.before_request(_started)
    app.after_request(_finished)
