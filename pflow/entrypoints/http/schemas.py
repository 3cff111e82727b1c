"""Request and response schemas (marshmallow); they also generate the OpenAPI document.

Request schemas reject what the API cannot take before anything moves (a decision recorded by
the engine cannot be taken back when the ticket store then refuses the text), and the document
they generate states every limit they enforce. The limits come from the domain, which checks
them again for callers that do not come through HTTP; its messages are used here word for word.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from flask import has_request_context
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from pflow.domain.model import COMMENT_MAX, TITLE_MAX, TicketStatus
from pflow.ports.repository import MAX_PAGE_SIZE, TASK_SORTS, TICKET_SORTS

STATUS_VALUES = [s.value for s in TicketStatus]

# Keeps the row offset, (page - 1) * page_size, far inside the 64-bit integer both databases take.
MAX_PAGE = 100_000
# Search text: SQLite refuses LIKE patterns over 50 000 bytes, and nobody searches with a page of text.
SEARCH_MAX = 200
NAME_MAX = 200

# No NUL: PostgreSQL cannot store it in text (SQLite can), so the two backends would disagree.
NO_NUL = r"^[^\x00]*$"
# At least one character that is not white space (the domain strips text before checking it).
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
AMOUNT_PATTERN = r"^(\d{1,12}(\.\d{1,2})?)?$"
# A form value: a string, a number, a boolean or null (null under one alternative only: OpenAPI 3.0 applies
# a `nullable` beside `oneOf` to none of the alternatives, so validators refuse null there).
FIELD_VALUE = {"oneOf": [{"type": "string", "nullable": True}, {"type": "number"}, {"type": "boolean"}]}


# What an automated step returned: text, a number or true/false (never null: an empty result is not kept).
RESULT_VALUE = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


def sent(schema: type[Schema]) -> type[Schema]:
    """A response schema whose every field the API always sends: the document lists them all as
    required, so a generated client need not treat them as optional (dumping is unaffected)."""
    for field in schema._declared_fields.values():
        field.required = True
    return schema


class Text(fields.String):
    """A string every ticket store can keep: no NUL character and no lone surrogate.

    A lone surrogate (JSON ``"\\ud800"``) is not Unicode text: it cannot be encoded as UTF-8, so a
    database refuses it at commit time, after the workflow engine may already have moved.
    """

    default_error_messages = {
        "nul": "Must not contain the NUL character (U+0000).",
        "surrogate": "Must be valid Unicode text: a lone surrogate such as \\ud800 cannot be stored.",
    }

    def __init__(self, *args, pattern: str = NO_NUL, pattern_error: str | None = None, **kwargs):
        validators = list(kwargs.pop("validate", None) or [])
        if pattern != NO_NUL:
            validators.append(validate.Regexp(pattern, error=pattern_error or "Does not match {regex}."))
        super().__init__(*args, validate=validators, **kwargs)
        self.metadata = {"pattern": pattern, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("surrogate") from None
        return text


def length(maximum: int) -> validate.Length:
    return validate.Length(max=maximum, error="Must be at most {max} characters.")


def _range(maximum: int) -> validate.Range:
    return validate.Range(min=1, max=maximum, error="Must be between {min} and {max}.")


def page_field() -> fields.Integer:
    return fields.Integer(load_default=1, validate=_range(MAX_PAGE),
                          metadata={"description": f"1 to {MAX_PAGE}"})


def page_size_field() -> fields.Integer:
    return fields.Integer(load_default=20, validate=_range(MAX_PAGE_SIZE),
                          metadata={"description": f"1 to {MAX_PAGE_SIZE}"})


def title_field(**kwargs) -> Text:
    return Text(validate=[length(TITLE_MAX)], pattern=NOT_BLANK, pattern_error="Must not be empty.",
                metadata={"description": f"1-{TITLE_MAX} characters, not only spaces"}, **kwargs)


class Values(fields.Dict):
    """Field values of a form (a ticket type's or a step's): names to strings, numbers, booleans or null.

    Strings follow ``Text``'s rules (no NUL, no lone surrogate); nested objects and lists are refused,
    as no form field holds one. The form itself is checked by the service, which names each field.
    """

    default_error_messages = {"value": "Must be a string, a number, true/false or null."}

    def __init__(self, **kwargs):
        super().__init__(keys=Text(validate=[length(NAME_MAX)]), **kwargs)
        self.metadata = {"additionalProperties": FIELD_VALUE, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        values = super()._deserialize(value, attr, data, **kwargs)
        errors: dict[str, list[str]] = {}
        text = Text()
        for name, item in values.items():
            if item is None or isinstance(item, (bool, int, float)):
                if isinstance(item, float) and not math.isfinite(item):
                    errors[name] = [self.error_messages["value"]]
                continue
            if not isinstance(item, str):
                errors[name] = [self.error_messages["value"]]
                continue
            try:
                values[name] = text.deserialize(item)
            except ValidationError as exc:
                errors[name] = list(exc.messages) if isinstance(exc.messages, list) else [str(exc.messages)]
        if errors:
            raise ValidationError(errors)
        return values


class LoginSchema(Schema):
    username = Text(required=True, validate=[length(NAME_MAX)])
    password = Text(required=True, load_only=True, validate=[length(1024)])


@sent
class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String(), metadata={"description": "PFlow permissions (admin; manager)"})
    groups = fields.List(fields.String(), metadata={"description": "the groups processes offer steps to"})


@sent
class MeSchema(UserSchema):
    sso = fields.Boolean(metadata={"description": "signed in through the identity provider (sign out there too: "
                                                  "GET /api/auth/oidc/logout)"})


@sent
class LoginResultSchema(Schema):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    user = fields.Nested(UserSchema)


class SsoProviderSchema(Schema):
    name = fields.String(metadata={"description": "what the login page's button says"})
    login_url = fields.String(metadata={"description": "open it in the browser to sign in (redirects to the provider)"})


@sent
class ProvidersSchema(Schema):
    password = fields.Boolean(metadata={"description": "local users sign in with a password"})
    sso = fields.Nested(SsoProviderSchema, allow_none=True,
                        metadata={"description": "single sign-on through the identity provider; null when off"})


# The default type's fields, accepted at the top level as before types existed.
LEGACY_FIELDS = ("description", "amount", "priority")


class TicketInputSchema(Schema):
    type = Text(validate=[length(NAME_MAX)], metadata={"description": "a ticket type key (GET /api/ticket-types); "
                                                                      "the default type when left out"})
    title = title_field(required=True)
    field_values = Values(data_key="fields", attribute="fields",
                          metadata={"description": "the ticket's own fields, as its type's form declares them"})
    description = Text(allow_none=True, validate=[length(4000)],
                       metadata={"description": "older form of fields.description (the default type)"})
    amount = fields.Raw(allow_none=True, metadata={
        "description": "older form of fields.amount (the default type): a number or a decimal string",
        "nullable": True, "oneOf": [{"type": "number"}, {"type": "string", "pattern": AMOUNT_PATTERN}]})
    priority = Text(allow_none=True, validate=[length(NAME_MAX)],
                    metadata={"description": "older form of fields.priority (the default type)"})

    check_form = True  # creation: the type's form is checked here, so every bad field is named in one answer

    @pre_load
    def _fold_legacy(self, data, **kwargs):
        """The body before types existed ({title, description, amount, priority}): the default type's fields."""
        if not isinstance(data, dict) or not any(k in data for k in LEGACY_FIELDS):
            return data
        legacy = {k: data[k] for k in LEGACY_FIELDS if k in data}
        data = {k: v for k, v in data.items() if k not in LEGACY_FIELDS}
        amount = legacy.get("amount")
        if isinstance(amount, str):
            if amount == "":
                legacy["amount"] = None
            elif validate.Regexp(AMOUNT_PATTERN).regex.fullmatch(amount):
                legacy["amount"] = float(Decimal(amount))
        fields = data.get("fields", {})
        if isinstance(fields, dict):  # anything else (null included) is refused by the fields field, by name
            data["fields"] = {**{k: v for k, v in legacy.items() if v is not None}, **fields}
        return data

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check_against_the_form(self, data, original_data, **kwargs):
        if not self.check_form or not has_request_context():
            return
        if isinstance(original_data, dict) and "fields" in original_data and "fields" not in data:
            return  # the values themselves were refused (named above); the form cannot judge them
        from pflow.domain.errors import ValidationError as FormError
        from pflow.entrypoints.http.context import container

        catalog = container().tickets().catalog
        values = data.get("fields") or {}
        try:
            catalog.validate_fields(data.get("type") or catalog.default.key, values if isinstance(values, dict) else {})
        except FormError as exc:
            raise ValidationError(exc.details) from None


class TicketUpdateSchema(TicketInputSchema):
    check_form = False  # an edit: the service checks the changed fields against the ticket's own type
    title = title_field()
    version = fields.Integer(load_default=None, allow_none=True,
                             metadata={"description": "the version you edited; 409 if stale"})


class CommentSchema(Schema):
    comment = Text(allow_none=True, load_default=None, validate=[length(COMMENT_MAX)],
                   metadata={"description": f"up to {COMMENT_MAX} characters"})


class RejectSchema(Schema):
    comment = Text(required=True, validate=[length(COMMENT_MAX)], pattern=NOT_BLANK,
                   pattern_error="Must not be empty.",
                   metadata={"description": f"required: why (1-{COMMENT_MAX} characters)"})


class CompleteTaskSchema(Schema):
    variables = Values(load_default=dict, metadata={"description": "the step's form values by field id"})
    comment = Text(allow_none=True, load_default=None, validate=[length(COMMENT_MAX)],
                   metadata={"description": f"up to {COMMENT_MAX} characters; required when the decision is a rejection"})


@sent
class FormFieldValueSchema(Schema):
    id = fields.String()
    name = fields.String()


@sent
class FormFieldSchema(Schema):
    id = fields.String()
    label = fields.String()
    type = fields.String(metadata={"enum": ["string", "long", "boolean", "date", "enum"]})
    required = fields.Boolean()
    default = fields.Raw(allow_none=True, metadata=FIELD_VALUE)
    values = fields.List(fields.Nested(FormFieldValueSchema))
    decision = fields.Boolean(metadata={"description": "a decision (boolean, or enum with approve/reject)"})


@sent
class StepSchema(Schema):
    id = fields.String(metadata={"description": "the task id (POST /api/tasks/<id>/complete)"})
    step = fields.String(metadata={"description": "the task's id in the BPMN"})
    name = fields.String()
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    due = fields.DateTime(allow_none=True, metadata={
        "description": "when the step is due: its BPMN's camunda:dueDate, else its ticket type's default; null: none"})
    overdue = fields.Boolean(metadata={"description": "whether its due time has passed"})
    created_at = fields.DateTime(allow_none=True)
    form = fields.List(fields.Nested(FormFieldSchema))
    can_complete = fields.Boolean(metadata={"description": "whether the caller may complete it now"})
    on_behalf_of = fields.String(allow_none=True, metadata={
        "description": "whose step it is when the caller acts on it as their substitute (null: the caller's own)"})
    can_claim = fields.Boolean(metadata={
        "description": "whether the caller may claim it now (POST /api/tasks/<id>/claim): nobody holds it and "
                       "they may complete it"})
    can_unclaim = fields.Boolean(metadata={
        "description": "whether the caller may give it back to its candidates (POST /api/tasks/<id>/unclaim): "
                       "they hold it, the one they stand in for does, or they are an admin"})
    refusal = fields.String(allow_none=True, metadata={
        "description": "why not: not_a_candidate, own_ticket, last_editor, second_decision",
        "enum": ["not_a_candidate", "own_ticket", "last_editor", "second_decision", None]})


@sent
class TicketSchema(Schema):
    id = fields.String()
    type = fields.String()
    type_name = fields.String()
    title = fields.String()
    field_values = fields.Dict(data_key="fields", attribute="fields",
                               metadata={"description": "the ticket's own fields (its type's form)",
                                         "additionalProperties": FIELD_VALUE})
    status = fields.String(metadata={"enum": STATUS_VALUES})
    current_steps = fields.List(fields.String(), metadata={"description": "names of the open steps"})
    attention = fields.String(allow_none=True, metadata={
        "description": "why it needs attention: for admins the failed step's full error (or process_stopped, "
                       "process_missing); for everyone else only the code step_failed, process_stopped or "
                       "process_missing"})
    attention_key = fields.String(allow_none=True, metadata={
        "description": "the same as an error key (serverError.<key> in the UI): attention.step_failed, "
                       "attention.process_stopped or attention.process_missing; null when all is well"})
    results = fields.Dict(metadata={
        "description": "what its automated steps returned, by variable name: fulfilment_reference (the reference "
                       "the built-in provisioning step got for the request) and whatever a team's own steps return; "
                       "text search (q) looks in the text ones", "additionalProperties": RESULT_VALUE})
    requester = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()
    steps = fields.List(fields.Nested(StepSchema))
    allowed_actions = fields.List(fields.String(), metadata={"description": "what the caller may do now"})


@sent
class TicketPageSchema(Schema):
    items = fields.List(fields.Nested(TicketSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


@sent
class TaskTicketSchema(Schema):
    id = fields.String()
    type = fields.String()
    type_name = fields.String()
    title = fields.String()
    requester = fields.String()
    status = fields.String(metadata={"enum": STATUS_VALUES})
    field_values = fields.Dict(data_key="fields", attribute="fields", metadata={"additionalProperties": FIELD_VALUE})
    created_at = fields.DateTime()


@sent
class TaskSchema(StepSchema):
    ticket = fields.Nested(TaskTicketSchema)


@sent
class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


@sent
class TicketTypeSchema(Schema):
    key = fields.String()
    name = fields.String()
    names = fields.Dict(keys=fields.String(), values=fields.String())
    description = fields.String()
    descriptions = fields.Dict(keys=fields.String(), values=fields.String())
    process_key = fields.String()
    default = fields.Boolean()
    summary_fields = fields.List(fields.String())
    form = fields.Dict(metadata={"description": "JSON Schema of the ticket's fields"})


class TicketListArgsSchema(Schema):
    status = Text(validate=[validate.OneOf(STATUS_VALUES, error="Must be one of: {choices}.")],
                  metadata={"enum": STATUS_VALUES})
    type = Text(validate=[length(NAME_MAX)])
    requester = Text(validate=[length(NAME_MAX)])
    q = Text(validate=[length(SEARCH_MAX)],
             metadata={"description": "text in the title, the fields or the results (the fulfilment reference), "
                                      f"or #id (up to {SEARCH_MAX} characters)"})
    sort = Text(validate=[validate.OneOf(TICKET_SORTS, error="Must be one of: {choices}.")],
                metadata={"enum": list(TICKET_SORTS)})
    page = page_field()
    page_size = page_size_field()


class TaskListArgsSchema(Schema):
    type = Text(validate=[length(NAME_MAX)])
    group = Text(validate=[length(NAME_MAX)])
    step = Text(validate=[length(NAME_MAX)])
    status = Text(validate=[validate.OneOf(STATUS_VALUES, error="Must be one of: {choices}.")],
                  metadata={"enum": STATUS_VALUES})
    q = Text(validate=[length(SEARCH_MAX)],
             metadata={"description": "text in the step's name, or its ticket's title, fields or results (the "
                                      f"fulfilment reference), or #id (up to {SEARCH_MAX} characters)"})
    overdue = fields.Boolean(truthy={"true"}, falsy={"false"}, error_messages={"invalid": "Must be true or false."},
                             metadata={"description": "true: only steps past their due time; false: only the others"})
    sort = Text(load_default="created", validate=[validate.OneOf(TASK_SORTS, error="Must be one of: {choices}.")],
                metadata={"enum": list(TASK_SORTS)})
    page = page_field()
    page_size = page_size_field()


class PageArgsSchema(Schema):
    page = page_field()
    page_size = page_size_field()


@sent
class HistoryEntrySchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    comment = fields.String(allow_none=True, metadata={"description": "what the actor wrote"})
    details = fields.Dict(metadata={
        "description": "facts the system recorded: changed (field names), reference (fulfilment reference), "
                       "results (what an automated step returned, on a step_results entry), "
                       "error (why an automated step failed, admins only; others get error_key, e.g. "
                       "attention.step_failed), step/step_name (the step), opened_at (when a completed step was "
                       "opened), recorded_from ('engine': found in the workflow engine "
                       "rather than made through PFlow), reason (why PFlow refused something it found there); "
                       "empty for entries from before they were kept"})


class AssigneeSchema(Schema):
    assignee = Text(required=True, allow_none=True, validate=[length(NAME_MAX)], metadata={
        "description": "the username to give the step to; null gives it back to its candidates"})


def _moment(description: str, **kwargs) -> fields.AwareDateTime:
    return fields.AwareDateTime(format="iso", error_messages={
        "invalid": "Must be a date and time (e.g. 2026-12-24T08:00:00Z).",
        "invalid_awareness": "Must include a time zone (e.g. 2026-12-24T08:00:00Z)."},
        metadata={"description": description}, **kwargs)


class SubstituteInputSchema(Schema):
    substitute = Text(required=True, validate=[length(NAME_MAX)],
                      metadata={"description": "the username of who acts for you (not yourself)"})
    starts = _moment("from when (ISO 8601 with a time zone); now when left out", load_default=None, allow_none=True)
    ends = _moment("until when (ISO 8601 with a time zone): after the start, in the future, at most 366 days on",
                   required=True)


@sent
class SubstitutionSchema(Schema):
    user = fields.String(metadata={"description": "who is away"})
    substitute = fields.String(metadata={"description": "who acts for them"})
    starts = fields.DateTime()
    ends = fields.DateTime()
    created = fields.DateTime()
    active = fields.Boolean(metadata={"description": "whether it runs now"})


@sent
class SubstituteStateSchema(Schema):
    substitute = fields.Nested(SubstitutionSchema, allow_none=True, metadata={
        "description": "the substitute you named (running, upcoming or over); null when none"})
    standing_in_for = fields.List(fields.Nested(SubstitutionSchema), metadata={
        "description": "whom you stand in for now: their steps are in your inbox"})


@sent
class ProcessSchema(Schema):
    ticket_id = fields.String()
    state = fields.String(allow_none=True, metadata={"description": "active, completed, terminated, incident"})
    definition_xml = fields.String(metadata={"description": "BPMN 2.0 XML of the deployed definition"})
    active_activity_ids = fields.List(fields.String())
    completed_activity_ids = fields.List(fields.String())
    incidents = fields.List(fields.String())


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable, e.g. validation_error"})
    message = fields.String(required=True, metadata={"description": "what went wrong, in English"})
    details = fields.Dict(required=True, metadata={
        "description": "per field for validation errors (field name to messages); otherwise facts such as "
                       "the dependency that is down"})
    key = fields.String(required=True, metadata={
        "description": "stable dotted name of the error, e.g. ticket.not_editable, to word it in the reader's "
                       "language (the UI: serverError.<key>); message is its English text"})
    params = fields.Dict(required=True, metadata={"description": "the values the key is worded with (status: a ticket status code)"})
    error_fields = fields.Dict(
        data_key="fields", attribute="fields",
        keys=fields.String(), values=fields.List(fields.Nested(lambda: FieldErrorSchema())),
        metadata={"description": "422 only: per dotted field path, each problem as {key, params} "
                                 "(the same fields as details)"})


class FieldErrorSchema(Schema):
    key = fields.String(required=True, metadata={"description": "e.g. field.required, field.max_length"})
    params = fields.Dict(required=True, metadata={"description": "e.g. {\"max\": \"200\"}"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@sent
class NotificationSchema(Schema):
    id = fields.String()
    ticket_id = fields.String()
    kind = fields.String(metadata={"description": "the event type, e.g. ticket.submitted"})
    message = fields.String(metadata={"description": "the text in English"})
    params = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "the values the message is made from (title, actor, amount, comment, reference, error; "
                       "those that apply), to word it in the reader's language; empty for older notifications"})
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "null while unread"})


@sent
class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    total = fields.Integer(metadata={"description": "how many are listed in all (all, or unread only)"})
    unread = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class NotificationArgsSchema(Schema):
    unread_only = fields.Boolean(load_default=False)
    page = page_field()
    page_size = page_size_field()


@sent
class UnreadCountSchema(Schema):
    unread = fields.Integer()


class StatsArgsSchema(Schema):
    weeks = fields.Integer(load_default=12, validate=_range(52),
                           metadata={"description": "how many weeks back, this one included (1 to 52)"})


@sent
class AgeCountSchema(Schema):
    bucket = fields.String(metadata={"enum": ["lt_1d", "d1_3", "d3_7", "gt_7d"],
                                     "description": "how long the steps have been open"})
    count = fields.Integer()


@sent
class OpenTasksSchema(Schema):
    group = fields.String(metadata={"description": "a candidate group (a step offered to two counts in each)"})
    total = fields.Integer(metadata={"description": "open steps offered to the group, those of unknown age included"})
    by_age = fields.List(fields.Nested(AgeCountSchema))


@sent
class TypeDurationSchema(Schema):
    type = fields.String(metadata={"description": "ticket type key"})
    count = fields.Integer()
    median_s = fields.Float(metadata={"description": "seconds"})
    p90_s = fields.Float(metadata={"description": "seconds (nearest-rank 90th percentile)"})


@sent
class StepDurationSchema(TypeDurationSchema):
    step = fields.String(metadata={"description": "the step's name in the BPMN"})
    step_id = fields.String(metadata={"description": "the step's id in the BPMN"})


@sent
class CycleTimeSchema(Schema):
    by_type = fields.List(fields.Nested(TypeDurationSchema), metadata={
        "description": "from submission to the end (completed or rejected), tickets ended in the period"})
    by_step = fields.List(fields.Nested(StepDurationSchema), metadata={
        "description": "from a step's opening to its completion, steps completed in the period"})


@sent
class WeekSchema(Schema):
    week_start = fields.String(metadata={"description": "the week's Monday (UTC), YYYY-MM-DD"})
    created = fields.Integer()
    completed = fields.Integer()
    rejected = fields.Integer()


@sent
class TypeRateSchema(Schema):
    type = fields.String()
    decided = fields.Integer()
    rejected = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "rejected / decided; null when none was decided"})


@sent
class RejectionRateSchema(Schema):
    decided = fields.Integer(metadata={"description": "tickets ended completed or rejected in the period"})
    rejected = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "rejected / decided; null when none was decided"})
    by_type = fields.List(fields.Nested(TypeRateSchema))


@sent
class TypeSlaSchema(Schema):
    type = fields.String(metadata={"description": "ticket type key"})
    with_due = fields.Integer(metadata={"description": "steps completed in the period that had a due time"})
    on_time = fields.Integer(metadata={"description": "of those, completed at or before their due time"})
    share = fields.Float(allow_none=True, metadata={"description": "on_time / with_due; null when with_due is 0"})
    open_overdue = fields.Integer(metadata={"description": "open steps past their due time now"})


@sent
class SlaSchema(Schema):
    with_due = fields.Integer()
    on_time = fields.Integer()
    share = fields.Float(allow_none=True, metadata={"description": "on_time / with_due; null when with_due is 0"})
    open_overdue = fields.Integer()
    by_type = fields.List(fields.Nested(TypeSlaSchema), metadata={
        "description": "types with a step completed in the period with a due time, or an open step overdue"})


@sent
class StatsSchema(Schema):
    generated_at = fields.DateTime()
    open_tasks = fields.List(fields.Nested(OpenTasksSchema))
    cycle_time = fields.Nested(CycleTimeSchema)
    throughput = fields.List(fields.Nested(WeekSchema), metadata={"description": "every week of the period, oldest first"})
    rejection_rate = fields.Nested(RejectionRateSchema)
    sla = fields.Nested(SlaSchema, metadata={"description": "steps done before their due time, per ticket type"})


@sent
class IncidentSchema(Schema):
    ticket_id = fields.String()
    title = fields.String()
    type = fields.String()
    requester = fields.String()
    step = fields.String(metadata={"description": "the failed step's name (or process_stopped/process_missing)"})
    step_id = fields.String(allow_none=True, metadata={"description": "the failed step's id in the BPMN"})
    error = fields.String(metadata={"description": "the full error of the failed step (admins only)"})
    retries_left = fields.Integer(allow_none=True, metadata={
        "description": "as the engine has it now; null when it cannot say or no step failed"})
    failed_at = fields.DateTime()


@sent
class IncidentPageSchema(Schema):
    items = fields.List(fields.Nested(IncidentSchema))
    total = fields.Integer()


@sent
class DirectoryUserSchema(Schema):
    username = fields.String()
    name = fields.String(metadata={"description": "the display name"})
    roles = fields.List(fields.String())
    groups = fields.List(fields.String())


@sent
class DirectoryGroupSchema(Schema):
    name = fields.String()
    members = fields.List(fields.String(), metadata={"description": "usernames, sorted"})


@sent
class DirectorySchema(Schema):
    users = fields.List(fields.Nested(DirectoryUserSchema))
    groups = fields.List(fields.Nested(DirectoryGroupSchema))
