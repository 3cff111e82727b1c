"""The stable keys of the API's errors, and the values each is worded with.

Every error body carries ``key`` (dotted, e.g. ``ticket.not_editable``) and ``params`` next to the English
``message``; a 422 also carries ``fields``: for each field path, a list of ``{key, params}``. Clients word a
key in the reader's language (the UI: ``serverError.<key>`` in its locale files, a test keeps every key
here worded there). Only keys listed here leave the server: an error naming another one is sent with its
class's key instead, so a client never meets a key it cannot word.

Field messages come from marshmallow, the ticket types' JSON Schemas (``pflow.adapters.catalog``) and the
service's form checks, all worded in English by PFlow; ``FIELD_MESSAGES`` reads each message back into its
key and values. A message none of them matches is ``field.invalid`` with the message itself as ``message``.
"""

from __future__ import annotations

import re
from typing import Any

from pflow.domain import errors as e

#: every error key -> the names of its params (a param named ``status`` holds a ticket status code)
ERROR_KEYS: dict[str, tuple[str, ...]] = {
    # any error of a class that names no key of its own
    "error.not_found": (),
    "error.forbidden": (),
    "error.invalid_transition": (),
    "error.conflict": (),
    "error.bad_request": (),
    "error.internal": (),
    "validation.invalid": (),
    "service.unavailable": ("dependency",),
    "service.misconfigured": ("dependency",),
    # the HTTP layer
    "http.not_found": (),
    "http.method_not_allowed": (),
    "http.payload_too_large": (),
    "http.unsupported_media_type": (),
    "http.too_many_requests": (),
    "http.invalid_json": (),
    # logging in
    "auth.login_required": (),
    "auth.session_expired": (),
    "auth.invalid_token": (),
    "auth.user_gone": (),
    "auth.login_failed": (),
    "auth.locked": ("minutes",),
    "auth.session_revoked": (),
    "auth.busy": (),
    "auth.demo_users_off": (),
    "auth.admins_only": (),
    "auth.stats_forbidden": (),
    "auth.csrf": (),
    # single sign-on
    "sso.off": (),
    "sso.unavailable": (),
    # tickets
    "ticket.not_found": ("id",),
    "ticket.not_editable": ("status",),
    "ticket.not_deletable": ("status",),
    "ticket.not_submittable": ("status",),
    "ticket.not_withdrawable": ("status",),
    "ticket.not_resubmittable": ("status",),
    "ticket.not_retryable": ("status",),
    "ticket.owner_only": ("action",),
    "ticket.retry_admin_only": (),
    "ticket.repair_admin_only": (),
    "ticket.changed": ("version", "expected"),
    "ticket.changed_meanwhile": (),
    "ticket.deleted_meanwhile": (),
    "ticket.nothing_to_retry": (),
    "ticket.no_open_decision": ("status",),
    "ticket.several_decisions": ("count",),
    "ticket.invalid_fields": (),
    "ticket_type.unknown": ("type",),
    "task.not_found": ("id",),
    "notification.not_found": ("id",),
    "webhook.not_found": ("id",),
    # steps
    "step.invalid_values": (),
    "step.already_completed": (),
    "step.already_completed_by": ("by",),
    "step.refused.not_a_candidate": (),
    "step.refused.own_ticket": (),
    "step.refused.last_editor": (),
    "step.refused.second_decision": (),
    "task.claimed_by": ("by",),
    "task.not_claimable": (),
    "task.not_yours": (),
    "task.reassign_admin_only": (),
    # why a ticket needs attention, as a requester reads it (the admins read the error itself)
    "attention.step_failed": (),
    "attention.process_stopped": (),
    "attention.process_missing": (),
}

#: one field's message -> (key, params), in order; the first pattern that matches the whole message wins
FIELD_MESSAGES: list[tuple[str, str]] = [
    (r"This field is required\.|Missing data for required field\.", "field.required"),
    (r"Must not be empty\.", "field.not_empty"),
    (r"Field may not be null\.", "field.not_null"),
    (r"Must be at most (?P<max>\d+) characters\.|Longer than maximum length (?P<max2>\d+)\.", "field.max_length"),
    (r"Must be at least (?P<min>\d+) characters\.", "field.min_length"),
    (r"Must be between (?P<min>-?[\d.]+) and (?P<max>-?[\d.]+)\.", "field.range"),
    (r"Must be at least (?P<min>-?[\d.]+)\.", "field.min"),
    (r"Must be greater than or equal to (?P<min>-?[\d.eE+]+)\.", "field.minimum"),
    (r"Must be greater than (?P<min>-?[\d.eE+]+)\.", "field.exclusive_minimum"),
    (r"Must be at most (?P<max>-?[\d.eE+]+)\.", "field.maximum"),
    (r"Must be less than (?P<max>-?[\d.eE+]+)\.", "field.exclusive_maximum"),
    (r"Must be a multiple of (?P<step>-?[\d.eE+]+)\.", "field.multiple_of"),
    (r"Must be one of: (?P<choices>.*)\.", "field.one_of"),
    (r"Must be a date \(YYYY-MM-DD\)\.", "field.date"),
    (r"Does not have the expected form\.", "field.pattern"),
    (r"Unknown field\.", "field.unknown"),
    (r"Must be a string\.|Not a valid string\.", "field.string"),
    (r"Must be a number\.|Not a valid number\.", "field.number"),
    (r"Must be a whole number\.|Not a valid integer\.", "field.integer"),
    (r"Must be a 64-bit whole number\.", "field.int64"),
    (r"Must be true or false\.|Not a valid boolean\.", "field.boolean"),
    (r"Must be an object\.|Not a valid mapping type\.|Invalid input type\.", "field.object"),
    (r"Must be a string, a number, true/false or null\.", "field.value_type"),
    (r"Must not contain the NUL character \(U\+0000\)\.", "field.nul"),
    (r"Must be valid Unicode text: .*", "field.surrogate"),
    (r"You cannot be your own substitute\.", "field.own_substitute"),
    (r"No such user\.", "field.unknown_user"),
    (r"Must be after the start\.", "field.after_start"),
    (r"Must be an http:// or https:// URL\.", "field.url"),
    (r"Must be an event type or a pattern of them, such as ticket\.\* \(a-z, _, \. and \*\)\.", "field.event_pattern"),
    (r"Must be in the future\.", "field.future"),
    (r"Must be a date and time \(e\.g\. [^)]*\)\.", "field.datetime"),
    (r"Separation of duties refuses this user this step\.", "field.separation_of_duties"),
    (r"Must include a time zone \(e\.g\. [^)]*\)\.", "field.time_zone"),
    (r"The period may be at most (?P<days>\d+) days long\.", "field.max_days"),
    (r"A JSON body is required \(Content-Type: application/json\)\.", "body.required"),
    (r"The JSON body is nested too deeply\.", "body.too_deep"),
    (r"A number in the JSON body has more than (?P<digits>\d+) digits\.", "body.number_too_long"),
    (r"Invalid JSON body\.", "body.invalid_json"),
]
_FIELD_PATTERNS = [(re.compile(pattern), key) for pattern, key in FIELD_MESSAGES]
_PARAM_NAMES = {"max2": "max"}

#: every field key -> its params
FIELD_KEYS: dict[str, tuple[str, ...]] = {}
for _pattern, _key in _FIELD_PATTERNS:
    FIELD_KEYS.setdefault(_key, tuple(dict.fromkeys(_PARAM_NAMES.get(n, n) for n in _pattern.groupindex)))
FIELD_KEYS["field.invalid"] = ("message",)

#: every key the server can send, in an error's ``key`` or in ``fields``
ALL_KEYS: dict[str, tuple[str, ...]] = {**ERROR_KEYS, **FIELD_KEYS}

_CLASS_KEYS: list[tuple[type[e.DomainError], str]] = [
    (e.NotFound, "error.not_found"),
    (e.PermissionDenied, "error.forbidden"),
    (e.InvalidTransition, "error.invalid_transition"),
    (e.ConcurrencyConflict, "error.conflict"),
    (e.ValidationError, "validation.invalid"),
    (e.ServiceUnavailable, "service.unavailable"),
]

HTTP_KEYS = {400: "error.bad_request", 401: "auth.login_required", 403: "error.forbidden", 404: "http.not_found",
             405: "http.method_not_allowed", 409: "error.conflict", 413: "http.payload_too_large",
             415: "http.unsupported_media_type", 422: "validation.invalid", 429: "http.too_many_requests",
             500: "error.internal", 503: "service.unavailable"}


def domain_key(error: e.DomainError) -> tuple[str, dict[str, Any]]:
    """The key and params of a domain error: its own when it names a known one, else its class's."""
    if error.key in ERROR_KEYS:
        return error.key, _only(error.key, error.params)
    if isinstance(error, e.ServiceUnavailable):
        return "service.unavailable", {"dependency": error.dependency}
    for cls, key in _CLASS_KEYS:
        if isinstance(error, cls):
            return key, {}
    return "error.bad_request", {}


def checked(key: str, params: dict[str, Any] | None = None, *, fallback: str = "error.bad_request"
            ) -> tuple[str, dict[str, Any]]:
    """(key, params) if the key is known, else the fallback with no params."""
    if key in ERROR_KEYS:
        return key, _only(key, params or {})
    return fallback, {}


def field_error(message: Any) -> dict[str, Any]:
    """One field message as ``{"key", "params"}``."""
    text = str(message)
    for pattern, key in _FIELD_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            params = {_PARAM_NAMES.get(n, n): v for n, v in match.groupdict().items() if v is not None}
            return {"key": key, "params": params}
    return {"key": "field.invalid", "params": {"message": text}}


def field_errors(details: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per dotted field path, the keyed form of the messages in a validation error's ``details``."""
    fields: dict[str, list[dict[str, Any]]] = {}

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(f"{path}.{name}" if path else str(name), inner)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, (dict, list, tuple)):
                    walk(path, item)
                else:
                    fields.setdefault(path or "_schema", []).append(field_error(item))
        elif value is not None:
            fields.setdefault(path or "_schema", []).append(field_error(value))

    walk("", details or {})
    return fields


def _only(key: str, params: dict[str, Any]) -> dict[str, Any]:
    """The declared params of the key (a stray value is not sent: clients word only what the key names)."""
    names = ALL_KEYS.get(key, ())
    return {name: params[name] for name in names if name in params and params[name] is not None}
