"""Ticket types from files: the shipped ones load, bad files stop PFlow naming file and field, and
fields are checked per field in the API's error shape."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from pflow.adapters.catalog import CatalogError, FileTicketTypeCatalog, process_keys_in
from pflow.config import REPO_ROOT
from pflow.domain.errors import ValidationError

WORKFLOWS = REPO_ROOT / "deploy" / "workflows"


@pytest.fixture(scope="module")
def catalog():
    return FileTicketTypeCatalog.from_folder(WORKFLOWS)


def test_the_shipped_types_load_with_the_it_request_as_default(catalog):
    assert [t.key for t in catalog.list()][0] == "it_request" == catalog.default.key
    assert {t.key for t in catalog.list()} == {"it_request", "purchase_request", "access_request", "expense_claim"}
    assert catalog.get("purchase_request").process_key == "purchase_request"
    assert catalog.get("purchase_request").name("zh-CN") == "采购申请"
    assert catalog.get("it_request").process_key == "ticket_approval"


def test_every_shipped_process_is_found_in_its_bpmn_file():
    assert set(process_keys_in(WORKFLOWS)) == {"ticket_approval", "purchase_request", "access_request", "expense_claim"}


def test_fields_are_normalised_and_defaults_filled(catalog):
    clean = catalog.validate_fields("it_request", {"description": "  a laptop  ", "amount": 1200})
    assert clean == {"description": "a laptop", "amount": 1200, "priority": "normal"}


def test_every_bad_field_is_named_at_once(catalog):
    with pytest.raises(ValidationError) as caught:
        catalog.validate_fields("purchase_request", {"amount": -5, "cost_centre": "x" * 41,
                                                     "needed_by": "next week", "colour": "red"})
    details = caught.value.details
    assert details["amount"] == ["Must be greater than 0."]
    assert details["supplier"] == ["This field is required."]
    assert details["cost_centre"] == ["Must be at most 40 characters."]
    assert details["needed_by"] == ["Must be a date (YYYY-MM-DD)."]
    assert details["colour"] == ["Unknown field."]


@pytest.mark.parametrize("fields, field, message", [
    ({"system": "crm", "access_level": "root"}, "access_level", "Must be one of: read, write, admin."),
    ({"system": "crm", "access_level": "read", "temporary": "yes"}, "temporary", "Must be true or false."),
    ({"system": "", "access_level": "read"}, "system", "This field is required."),
    ({"system": 7, "access_level": "read"}, "system", "Must be a string."),
])
def test_type_enum_boolean_and_required_are_checked(catalog, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        catalog.validate_fields("access_request", fields)
    assert caught.value.details[field] == [message]


def test_an_edit_checks_only_the_fields_it_changes(catalog):
    assert catalog.validate_fields("purchase_request", {"supplier": "ACME"}, partial=True) == {"supplier": "ACME"}
    with pytest.raises(ValidationError):
        catalog.validate_fields("purchase_request", {"amount": 0}, partial=True)


def test_an_edit_that_empties_an_optional_field_clears_it_and_a_required_one_is_refused(catalog):
    assert catalog.validate_fields("purchase_request", {"cost_centre": " ", "supplier": "ACME"}, partial=True) == {
        "cost_centre": None, "supplier": "ACME"}
    with pytest.raises(ValidationError) as caught:
        catalog.validate_fields("purchase_request", {"supplier": None, "cost_centre": ""}, partial=True)
    assert caught.value.details == {"supplier": ["This field is required."]}


def test_an_unknown_type_names_the_type_field(catalog):
    with pytest.raises(ValidationError) as caught:
        catalog.get("holiday")
    assert "type" in caught.value.details


def test_a_string_field_without_a_maximum_gets_one(tmp_path):
    folder = _folder(tmp_path, "note: {type: string}")
    catalog = FileTicketTypeCatalog.from_folder(folder)
    with pytest.raises(ValidationError) as caught:
        catalog.validate_fields("t", {"note": "x" * 4001})
    assert caught.value.details["note"] == ["Must be at most 4000 characters."]


def _folder(tmp_path, properties: str, *, process="ticket_approval", extra=""):
    shutil.copy(WORKFLOWS / "ticket-process.bpmn", tmp_path / "ticket-process.bpmn")
    (tmp_path / "t.type.yaml").write_text(textwrap.dedent(f"""\
        key: t
        name: T
        process: {process}
        {extra}
        form:
          type: object
          properties:
            {properties}
        """))
    return tmp_path


@pytest.mark.parametrize("properties, process, extra, says", [
    ("a: {type: string}", "holidays", "", "process 'holidays' is not declared in any BPMN file"),
    ("a: {type: array}", "ticket_approval", "", "form.properties.a.type: must be one of string"),
    ("a: {type: string, x-widget: slider}", "ticket_approval", "", "form.properties.a.x-widget"),
    ("a: {type: string, format: email}", "ticket_approval", "", "form.properties.a.format"),
    ("a: {type: number, minimum: low}", "ticket_approval", "", "form.properties.a.minimum"),
    ("a: {type: string, colour: red}", "ticket_approval", "", "colour not supported"),
    ("title: {type: string}", "ticket_approval", "", "'title' is reserved"),
    ("a: {type: string}", "ticket_approval", "summary: [b]", "summary names 'b'"),
    ("a: {type: string}", "ticket_approval", "owner: me", "Additional properties are not allowed"),
    ("a: {type: string, enum: [x], default: y}", "ticket_approval", "", "form.properties.a.default"),
])
def test_a_bad_type_file_is_refused_naming_file_and_field(tmp_path, properties, process, extra, says):
    folder = _folder(tmp_path, properties, process=process, extra=extra)
    with pytest.raises(CatalogError) as caught:
        FileTicketTypeCatalog.from_folder(folder)
    assert str(folder / "t.type.yaml") in str(caught.value) and says in str(caught.value)


def test_a_folder_without_types_is_refused(tmp_path):
    shutil.copy(WORKFLOWS / "ticket-process.bpmn", tmp_path / "ticket-process.bpmn")
    with pytest.raises(CatalogError, match="no ticket type"):
        FileTicketTypeCatalog.from_folder(tmp_path)
