"""Request and response schemas (marshmallow); they also generate the OpenAPI document.

Request schemas reject what the API cannot take before anything moves (a decision recorded by
the engine cannot be taken back when the ticket store then refuses the text), and the document
they generate states every limit they enforce. The limits come from the domain, which checks
them again for callers that do not come through HTTP; its messages are used here word for word.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, fields, validate

from pflow.domain.model import AMOUNT_MAX, COMMENT_MAX, DESCRIPTION_MAX, TITLE_MAX, Priority, TicketStatus
from pflow.ports.repository import MAX_PAGE_SIZE

STATUS_VALUES = [s.value for s in TicketStatus]
PRIORITY_VALUES = [p.value for p in Priority]

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
AMOUNT_OUT_PATTERN = r"^\d{1,12}\.\d{2}$"


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


class Amount(fields.Field):
    """A money amount: a decimal string ("1200.50") or a JSON number, >= 0 with at most 2 places.

    Strings are the exact form (the API returns amounts as strings). A JSON number is taken when it is
    a whole number of cents up to the precision a double has (1200.57 arrives as 1200.5700000000001).
    """

    default_error_messages = {
        "invalid": "Must be a decimal number >= 0 with at most 2 decimal places, e.g. \"1200.50\".",
        "too_large": f"Must be at most {AMOUNT_MAX}.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if not validate.Regexp(AMOUNT_PATTERN).regex.fullmatch(value):
                raise self.make_error("invalid")
            return Decimal(value) if value else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        try:
            exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
            cents = exact.quantize(Decimal("0.01"))
        except InvalidOperation:  # more digits than the decimal context holds
            raise self.make_error("too_large") from None
        if cents < 0 or abs(exact - cents) > Decimal("1e-6"):
            raise self.make_error("invalid")
        if cents > AMOUNT_MAX:
            raise self.make_error("too_large")
        return cents


AMOUNT_INPUT_DOC = {
    "description": "decimal >= 0 with at most 2 places: a string such as \"1200.50\" (exact; \"\" or null for none) "
                   "or a number",
    "anyOf": [{"type": "string", "pattern": AMOUNT_PATTERN, "nullable": True},
              {"type": "number", "minimum": 0, "maximum": float(AMOUNT_MAX), "multipleOf": 0.01}],
}


class LoginSchema(Schema):
    username = Text(required=True, validate=[length(NAME_MAX)])
    password = Text(required=True, load_only=True, validate=[length(1024)])


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())


class LoginResultSchema(Schema):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    user = fields.Nested(UserSchema)


class TicketInputSchema(Schema):
    title = title_field(required=True)
    description = Text(allow_none=True, validate=[length(DESCRIPTION_MAX)],
                       metadata={"description": f"up to {DESCRIPTION_MAX} characters"})
    amount = Amount(allow_none=True, metadata=AMOUNT_INPUT_DOC)
    priority = Text(validate=[validate.OneOf(PRIORITY_VALUES, error="Must be one of: {choices}.")],
                    metadata={"enum": PRIORITY_VALUES, "default": "normal"})


class TicketUpdateSchema(TicketInputSchema):
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


class TicketSchema(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    amount = fields.Decimal(as_string=True, allow_none=True, metadata={
        "type": "string", "pattern": AMOUNT_OUT_PATTERN,
        "description": "exact decimal with 2 places, e.g. \"1200.50\" (a string, never a float)"})
    priority = fields.String(metadata={"enum": PRIORITY_VALUES})
    status = fields.String(metadata={"enum": STATUS_VALUES})
    requester = fields.String()
    approver = fields.String(allow_none=True)
    fulfilment_reference = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()
    allowed_actions = fields.List(fields.String(), metadata={"description": "what the caller may do now"})


class TicketPageSchema(Schema):
    items = fields.List(fields.Nested(TicketSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class TicketListArgsSchema(Schema):
    status = Text(validate=[validate.OneOf(STATUS_VALUES, error="Must be one of: {choices}.")],
                  metadata={"enum": STATUS_VALUES})
    requester = Text(validate=[length(NAME_MAX)])
    q = Text(validate=[length(SEARCH_MAX)],
             metadata={"description": f"text in title or description (up to {SEARCH_MAX} characters)"})
    page = page_field()
    page_size = page_size_field()


class PageArgsSchema(Schema):
    page = page_field()
    page_size = page_size_field()


class HistoryEntrySchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    comment = fields.String(allow_none=True, metadata={"description": "what the actor wrote"})
    details = fields.Dict(metadata={
        "description": "facts the system recorded: changed (field names), reference (fulfilment reference), "
                       "error (why provisioning failed), recorded_from ('engine': found in the workflow engine "
                       "rather than made through PFlow), reason (why PFlow refused something it found there); "
                       "empty for entries from before they were kept"})


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


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


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


class UnreadCountSchema(Schema):
    unread = fields.Integer()
