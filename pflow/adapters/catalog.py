"""Ticket types from ``*.type.yaml`` files next to the BPMN, with forms checked by ``jsonschema``.

A type file (docs/processes.md)::

    key: purchase_request
    name: {en: Purchase request, zh-CN: 采购申请}
    description: {en: Buy goods or services, zh-CN: 购买商品或服务}
    process: purchase_request          # the id of a <bpmn:process> in deploy/workflows/
    summary: [amount, supplier]        # fields shown next to the title in lists and inboxes
    due: PT48H                         # a step is due this long after it opens (ISO 8601 duration) when
    steps:                             #   its BPMN has no camunda:dueDate; per step (BPMN task id):
      FinanceApproval: {due: P1D}
    form:                              # JSON Schema (draft 2020-12) of the ticket's own fields
      type: object
      required: [amount]
      properties:
        amount: {type: number, title: Amount, x-title: {zh-CN: 金额}, minimum: 0.01, maximum: 1000000}

Everything is checked when PFlow starts, and a bad file stops it with a message that names the file
and the field: a form must be a valid JSON Schema within the subset the UI can render (string with
``maxLength``, multi-line text, number/integer with bounds, enum, boolean, date), and the process
must be declared in one of the BPMN files of the folder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from pflow.domain.durations import check_duration
from pflow.domain.errors import ValidationError
from pflow.domain.types import DEFAULT_LANGUAGE, LANGUAGES, TicketType
from pflow.ports.catalog import TicketTypeCatalog

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
TYPE_FILE_GLOB = "*.type.yaml"
DEFAULT_MAX_LENGTH = 4000  # a string field without maxLength gets this one
FIELD_TYPES = ("string", "number", "integer", "boolean")
FIELD_KEYWORDS = {"type", "title", "description", "x-title", "x-description", "x-widget", "enum", "default",
                  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                  "maxLength", "pattern", "format", "examples"}
WIDGETS = ("textarea",)
FORMATS = ("date",)

_I18N_TEXT = {"oneOf": [{"type": "string", "minLength": 1},
                        {"type": "object", "required": [DEFAULT_LANGUAGE],
                         "properties": {lang: {"type": "string", "minLength": 1} for lang in LANGUAGES},
                         "additionalProperties": False}]}

# The shape of a type file, checked with jsonschema like the forms themselves.
TYPE_FILE_SCHEMA = {
    "type": "object",
    "required": ["key", "name", "process", "form"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
        "name": _I18N_TEXT,
        "description": _I18N_TEXT,
        "process": {"type": "string", "minLength": 1},
        "default": {"type": "boolean"},
        "summary": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "due": {"type": "string"},
        "steps": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "properties": {"due": {"type": "string"}}}},
        "form": {"type": "object", "required": ["type", "properties"],
                 "properties": {"type": {"const": "object"}, "properties": {"type": "object"}}},
    },
}


class CatalogError(ValueError):
    """A type file that PFlow cannot use; the message names the file and the field."""


def process_keys_in(folder: Path, pattern: str = "*.bpmn") -> dict[str, Path]:
    """The executable processes declared in the folder's BPMN files: process id -> file."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).glob(pattern)):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise CatalogError(f"{path}: not well-formed XML ({exc})") from None
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable", "false").lower() == "true" and process.get("id"):
                found.setdefault(process.get("id"), path)
    return found


def user_task_ids(path: Path, process_key: str) -> set[str]:
    """The ids of the user tasks of one process of a BPMN file (subprocesses included)."""
    root = ET.parse(path).getroot()
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_key:
            return {e.get("id") for e in process.iter(f"{{{BPMN_NS}}}userTask") if e.get("id")}
    return set()


def _due_defaults(data: dict[str, Any], path: Path, bpmn: Path) -> tuple[str | None, dict[str, str]]:
    """The type's ``due`` and ``steps.<id>.due``, each an ISO 8601 duration, naming the field when not."""
    due = data.get("due")
    if due is not None:
        try:
            due = check_duration(due)
        except ValueError as exc:
            raise CatalogError(f"{path}: due: {exc}") from None
    steps: dict[str, str] = {}
    known = user_task_ids(bpmn, data["process"]) if data.get("steps") else set()
    for step, spec in (data.get("steps") or {}).items():
        if step not in known:
            raise CatalogError(f"{path}: steps.{step}: process {data['process']!r} has no user task {step!r} "
                               f"(its user tasks: {', '.join(sorted(known)) or 'none'})")
        if "due" in spec:
            try:
                steps[step] = check_duration(spec["due"])
            except ValueError as exc:
                raise CatalogError(f"{path}: steps.{step}.due: {exc}") from None
    return due, steps


def _i18n(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    return {DEFAULT_LANGUAGE: value} if isinstance(value, str) else dict(value)


def _path(error_path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in error_path) or "(top level)"


def _check_form(form: dict[str, Any], where: str) -> dict[str, Any]:
    """The form as PFlow uses it (string fields bounded), or ``CatalogError`` naming the field."""
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        raise CatalogError(f"{where}: form.{_path(exc.absolute_path)} is not valid JSON Schema: {exc.message}"
                           ) from None
    properties = form.get("properties", {})
    required = form.get("required", [])
    for name in required:
        if name not in properties:
            raise CatalogError(f"{where}: form.required names {name!r}, which is not in form.properties")
    clean: dict[str, Any] = {}
    for name, spec in properties.items():
        at = f"{where}: form.properties.{name}"
        if name in ("title", "type", "id"):
            raise CatalogError(f"{at}: {name!r} is reserved for the ticket itself")
        if not isinstance(spec, dict):
            raise CatalogError(f"{at}: must be a mapping")
        unknown = set(spec) - FIELD_KEYWORDS
        if unknown:
            raise CatalogError(f"{at}: {', '.join(sorted(unknown))} not supported (supported: "
                               f"{', '.join(sorted(FIELD_KEYWORDS))})")
        kind = spec.get("type")
        if kind not in FIELD_TYPES:
            raise CatalogError(f"{at}.type: must be one of {', '.join(FIELD_TYPES)} (got {kind!r})")
        if "x-widget" in spec and (spec["x-widget"] not in WIDGETS or kind != "string"):
            raise CatalogError(f"{at}.x-widget: must be one of {', '.join(WIDGETS)} on a string field")
        if "format" in spec and (spec["format"] not in FORMATS or kind != "string"):
            raise CatalogError(f"{at}.format: must be one of {', '.join(FORMATS)} on a string field")
        if "enum" in spec and (not spec["enum"] or any(not isinstance(v, (str, int, float)) or isinstance(v, bool)
                                                       for v in spec["enum"])):
            raise CatalogError(f"{at}.enum: must list strings or numbers")
        if "x-title" in spec and (not isinstance(spec["x-title"], dict)
                                  or set(spec["x-title"]) - set(LANGUAGES)):
            raise CatalogError(f"{at}.x-title: must map languages ({', '.join(LANGUAGES)}) to titles")
        spec = dict(spec)
        if kind == "string" and "enum" not in spec and "format" not in spec:
            spec.setdefault("maxLength", DEFAULT_MAX_LENGTH)
        if "default" in spec:
            errors = list(Draft202012Validator(spec, format_checker=FormatChecker()).iter_errors(spec["default"]))
            if errors:
                raise CatalogError(f"{at}.default: {errors[0].message}")
        clean[name] = spec
    # Unknown fields are refused whatever the file says: a ticket holds only what its form declares.
    return {**form, "properties": clean, "additionalProperties": False}


def _message(error) -> tuple[str, str]:
    """(field, message) for one jsonschema error, worded like PFlow's other validation messages."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    field = _path(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else field
        return missing, "This field is required."
    if kind == "additionalProperties":
        return field, "Unknown field."
    if kind == "type":
        wanted = {"string": "a string", "number": "a number", "integer": "a whole number",
                  "boolean": "true or false", "object": "an object"}
        return field, f"Must be {wanted.get(str(error.validator_value), error.validator_value)}."
    if kind == "maxLength":
        return field, f"Must be at most {error.validator_value} characters."
    if kind == "minLength":
        return field, "Must not be empty." if error.validator_value == 1 else \
            f"Must be at least {error.validator_value} characters."
    if kind == "minimum":
        return field, f"Must be greater than or equal to {error.validator_value}."
    if kind == "exclusiveMinimum":
        return field, f"Must be greater than {error.validator_value}."
    if kind == "maximum":
        return field, f"Must be at most {error.validator_value}."
    if kind == "exclusiveMaximum":
        return field, f"Must be less than {error.validator_value}."
    if kind == "multipleOf":
        return field, f"Must be a multiple of {error.validator_value}."
    if kind == "enum":
        return field, "Must be one of: " + ", ".join(str(v) for v in error.validator_value) + "."
    if kind == "format" and schema.get("format") == "date":
        return field, "Must be a date (YYYY-MM-DD)."
    if kind == "pattern":
        return field, "Does not have the expected form."
    return field, error.message


class FileTicketTypeCatalog(TicketTypeCatalog):
    """Types read once from a folder; immutable afterwards, so shared by every thread."""

    def __init__(self, types: list[TicketType]) -> None:
        if not types:
            raise CatalogError("no ticket types are declared")
        self._types = {t.key: t for t in types}
        self._default = types[0]
        self._validators = {t.key: Draft202012Validator(t.form, format_checker=FormatChecker()) for t in types}

    @classmethod
    def from_folder(cls, folder: Path | str, *, processes: dict[str, Path] | None = None) -> "FileTicketTypeCatalog":
        folder = Path(folder)
        processes = process_keys_in(folder) if processes is None else processes
        meta = Draft202012Validator(TYPE_FILE_SCHEMA)
        types: list[TicketType] = []
        default_key = None
        for path in sorted(folder.glob(TYPE_FILE_GLOB)):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise CatalogError(f"{path}: not valid YAML ({exc})") from None
            errors = sorted(meta.iter_errors(data), key=lambda e: list(e.absolute_path))
            if errors:
                first = errors[0]
                raise CatalogError(f"{path}: {_path(first.absolute_path)}: {first.message}")
            if data["process"] not in processes:
                known = ", ".join(sorted(processes)) or "none"
                raise CatalogError(f"{path}: process {data['process']!r} is not declared in any BPMN file of "
                                   f"{folder} (declared: {known})")
            form = _check_form(data["form"], str(path))
            summary = tuple(data.get("summary", ()))
            for name in summary:
                if name not in form["properties"]:
                    raise CatalogError(f"{path}: summary names {name!r}, which is not in form.properties")
            if any(t.key == data["key"] for t in types):
                raise CatalogError(f"{path}: type key {data['key']!r} is declared twice")
            due, step_due = _due_defaults(data, path, processes[data["process"]])
            ticket_type = TicketType(key=data["key"], names=_i18n(data["name"]), process_key=data["process"],
                                     form=form, descriptions=_i18n(data.get("description")),
                                     summary_fields=summary, source=str(path), due=due, step_due=step_due)
            if data.get("default"):
                if default_key is not None:
                    raise CatalogError(f"{path}: default: true, but {default_key!r} is the default already")
                default_key = ticket_type.key
            types.append(ticket_type)
        if not types:
            raise CatalogError(f"{folder} holds no ticket type ({TYPE_FILE_GLOB}); PFlow needs at least one")
        if default_key is not None:
            types.sort(key=lambda t: t.key != default_key)
        return cls(types)

    def with_process(self, key: str, process_key: str) -> "FileTicketTypeCatalog":
        """The same catalog with one type running another process (CAMUNDA_PROCESS_KEY for the default type)."""
        from dataclasses import replace

        return FileTicketTypeCatalog([replace(t, process_key=process_key) if t.key == key else t
                                      for t in self._types.values()])

    def list(self) -> list[TicketType]:
        return list(self._types.values())

    def get(self, key: str) -> TicketType:
        try:
            return self._types[key]
        except KeyError:
            raise ValidationError("Unknown ticket type.", details={
                "type": ["Must be one of: " + ", ".join(self._types) + "."]}, key="ticket_type.unknown",
                params={"type": key}) from None

    @property
    def default(self) -> TicketType:
        return self._default

    def validate_fields(self, key: str, fields: Any, *, partial: bool = False) -> dict[str, Any]:
        ticket_type = self.get(key)
        if not isinstance(fields, dict):
            raise ValidationError("The ticket has invalid fields.", details={"fields": ["Must be an object."]},
                                  key="ticket.invalid_fields")
        properties = ticket_type.form.get("properties", {})
        clean: dict[str, Any] = {}
        cleared: list[str] = []
        for name, value in fields.items():
            if isinstance(value, str):
                value = value.strip()
            if value in ("", None) and name in properties:
                cleared.append(name)  # an empty optional field is an absent one (required is checked below)
                continue
            clean[name] = value
        if not partial:
            for name, spec in properties.items():
                if name not in clean and "default" in spec:
                    clean[name] = spec["default"]
        validator = self._validators[key]
        if partial:  # an edit names only what it changes
            validator = validator.evolve(schema={**ticket_type.form, "required": []})
        errors: dict[str, list[str]] = {}
        for error in validator.iter_errors(clean):
            if error.validator == "additionalProperties":
                for name in sorted(set(clean) - set(properties)):
                    errors.setdefault(name, []).append("Unknown field.")
                continue
            field, message = _message(error)
            errors.setdefault(field, []).append(message)
        if partial:
            # An edit that empties a field clears it (None); a required one cannot be cleared.
            required = set(ticket_type.form.get("required", []))
            for name in cleared:
                if name in required:
                    errors.setdefault(name, []).append("This field is required.")
                else:
                    clean[name] = None
        if errors:
            raise ValidationError("The ticket has invalid fields.", details=errors, key="ticket.invalid_fields")
        return clean
