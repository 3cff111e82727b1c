"""Log lines as text or as one JSON object per line (``PFLOW_LOG_FORMAT``), with the request they belong to.

Inside an HTTP request every line carries its request id and, once the token is checked, the user: both live
in context variables set by ``pflow.entrypoints.http.audit`` and are added to each record by
``ContextFilter``. A ticket's lines add ``ticket_id`` (and ``process_instance_id``) through ``extra=``.
Only the standard library: gunicorn's own loggers use the same formatter (``gunicorn_conf.logconfig_dict``).
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

from pflow.config import LOG_FORMATS

#: the request being served by this thread (None outside a request)
request_id_var: ContextVar[str | None] = ContextVar("pflow_request_id", default=None)
#: the user of that request, once authenticated
user_var: ContextVar[str | None] = ContextVar("pflow_user", default=None)

#: fields a record may carry (through ``extra=`` or ``ContextFilter``), written when set
CONTEXT_FIELDS = ("request_id", "user", "ticket_id", "process_instance_id")
#: the structured fields of an access or audit line (``extra={"access": {...}}``), written as JSON fields
STRUCTURED_ATTRIBUTES = ("access", "audit")

MAX_REQUEST_ID = 128


def valid_request_id(value: str | None) -> bool:
    """An incoming ``X-Request-ID`` PFlow keeps: 1 to 128 printable ASCII characters, no spaces around it."""
    return (bool(value) and len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable()
            and value == value.strip())


def new_request_id() -> str:
    return secrets.token_hex(16)


class ContextFilter(logging.Filter):
    """Adds the current request id and user to every record that does not name its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "user", None) is None:
            record.user = user_var.get() or _flask_user()
        return True


def _flask_user() -> str | None:
    """The user the current Flask request authenticated as (``g.user``), if any."""
    from flask import g, has_request_context

    if not has_request_context():
        return None
    user = g.get("user")
    return getattr(user, "username", None)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, the context fields that are
    known, the fields of an access or audit line, and exc_info (the traceback as a string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attribute in STRUCTURED_ATTRIBUTES:
            fields = getattr(record, attribute, None)
            if isinstance(fields, dict):
                # the line's text is these fields as JSON already: give them as fields instead of twice
                entry["message"] = attribute if attribute == "access" else str(fields.get("event", attribute))
                for name, value in fields.items():
                    entry.setdefault(name, value)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry.setdefault(name, value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message``, with ``[request_id]`` after the level inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s:%(request_suffix)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_suffix = f" [{request_id}]" if request_id else ""
        return super().format(record)


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (one of {', '.join(LOG_FORMATS)})")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def handler(log_format: str, stream=None) -> logging.Handler:
    """A stderr handler with the format and the context filter."""
    result = logging.StreamHandler(stream or sys.stderr)
    result.setFormatter(formatter(log_format))
    result.addFilter(ContextFilter())
    return result


def configure(level: str = "INFO", log_format: str = "text") -> None:
    """The root logger writes to stderr in ``log_format``; a second call replaces the handler of the first.
    Like ``logging.basicConfig``, nothing is added when someone else (a test runner) configured the root."""
    root = logging.getLogger()
    if any(not getattr(h, "pflow_handler", False) for h in root.handlers):
        return
    for old in list(root.handlers):
        root.removeHandler(old)
    new = handler(log_format)
    new.pflow_handler = True
    root.addHandler(new)
    root.setLevel(level)
