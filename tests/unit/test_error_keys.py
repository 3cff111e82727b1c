"""Every error key the server can send is worded in both UI languages, with only the params it sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pflow.domain.errors import ConcurrencyConflict, NotFound, PermissionDenied, ServiceUnavailable
from pflow.entrypoints.http.error_keys import ALL_KEYS, ERROR_KEYS, domain_key, field_error, field_errors

LOCALES = Path(__file__).resolve().parents[2] / "frontend" / "src" / "i18n" / "locales"


def text(locale: dict, key: str):
    node = locale["serverError"]
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_key_the_server_can_send_is_worded_with_its_own_params(language):
    locale = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    missing = [k for k in ALL_KEYS if text(locale, k) is None]
    assert not missing, f"{language}.json serverError lacks {missing}"
    for key, params in ALL_KEYS.items():
        used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text(locale, key)))
        assert used <= set(params), (language, key, used - set(params))


def test_the_server_error_section_follows_errors_in_both_locales():
    for language in ("en", "zh-CN"):
        keys = list(json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8")))
        assert keys[keys.index("errors") + 1] == "serverError", language


@pytest.mark.parametrize(("message", "key", "params"), [
    ("This field is required.", "field.required", {}),
    ("Missing data for required field.", "field.required", {}),
    ("Must be at most 200 characters.", "field.max_length", {"max": "200"}),
    ("Must be between 1 and 100.", "field.range", {"min": "1", "max": "100"}),
    ("Must be at least 1.", "field.min", {"min": "1"}),
    ("Must be greater than 0.", "field.exclusive_minimum", {"min": "0"}),
    ("Must be one of: read, write.", "field.one_of", {"choices": "read, write"}),
    ("Unknown field.", "field.unknown", {}),
    ("Not a valid integer.", "field.integer", {}),
    ("Something PFlow never says.", "field.invalid", {"message": "Something PFlow never says."}),
])
def test_field_messages_are_read_back_into_their_key(message, key, params):
    assert field_error(message) == {"key": key, "params": params}
    assert set(params) <= set(ALL_KEYS[key])


def test_nested_field_messages_get_dotted_paths():
    assert field_errors({"title": ["Must not be empty."], "fields": {"amount": ["Must be a number."]}}) == {
        "title": [{"key": "field.not_empty", "params": {}}],
        "fields.amount": [{"key": "field.number", "params": {}}]}


def test_a_domain_error_naming_an_unknown_key_is_sent_with_its_class_key():
    assert domain_key(NotFound("x", key="no.such.key", params={"id": "1"})) == ("error.not_found", {})
    assert domain_key(ConcurrencyConflict("x")) == ("error.conflict", {})
    assert domain_key(ServiceUnavailable("database")) == ("service.unavailable", {"dependency": "database"})


def test_params_the_key_does_not_name_are_not_sent():
    error = PermissionDenied("x", key="ticket.owner_only", params={"action": "edit", "internal": "secret"})
    assert domain_key(error) == ("ticket.owner_only", {"action": "edit"})
    assert all(k.count(".") >= 1 for k in ERROR_KEYS)
