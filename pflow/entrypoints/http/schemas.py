"""Request and response schemas (marshmallow); they also generate the OpenAPI document.

Schemas check shapes and types; the business rules (lengths, ranges, who may
do what) live in the domain, which reports them per field the same way.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from pflow.domain.model import Priority, TicketStatus

STATUS_VALUES = [s.value for s in TicketStatus]
PRIORITY_VALUES = [p.value for p in Priority]


class LoginSchema(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())


class LoginResultSchema(Schema):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    user = fields.Nested(UserSchema)


class TicketInputSchema(Schema):
    class Meta:
        unknown = INCLUDE  # the domain reports unknown fields together with the other field errors

    title = fields.String(required=True, metadata={"description": "1-200 characters"})
    description = fields.String(allow_none=True, metadata={"description": "up to 4000 characters"})
    amount = fields.Decimal(allow_none=True, as_string=True, allow_nan=False,
                            metadata={"description": "decimal >= 0 with at most 2 places, e.g. \"1200.50\""})
    priority = fields.String(metadata={"enum": PRIORITY_VALUES, "default": "normal"})


class TicketUpdateSchema(TicketInputSchema):
    title = fields.String()
    version = fields.Integer(load_default=None, metadata={"description": "the version you edited; 409 if stale"})


class CommentSchema(Schema):
    comment = fields.String(allow_none=True, load_default=None)


class RejectSchema(Schema):
    comment = fields.String(allow_none=True, load_default=None, metadata={"description": "required: why"})


class TicketSchema(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    amount = fields.Decimal(as_string=True, allow_none=True)
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
    status = fields.String(metadata={"enum": STATUS_VALUES})
    requester = fields.String()
    q = fields.String(metadata={"description": "text in title or description"})
    page = fields.Integer(load_default=1)
    page_size = fields.Integer(load_default=20)


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1)
    page_size = fields.Integer(load_default=20)


class HistoryEntrySchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    comment = fields.String(allow_none=True, metadata={"description": "what the actor wrote"})
    details = fields.Dict(metadata={
        "description": "facts the system recorded: changed (field names), reference (fulfilment reference), "
                       "error (why provisioning failed); empty for entries from before they were kept"})


class ProcessSchema(Schema):
    ticket_id = fields.String()
    state = fields.String(allow_none=True, metadata={"description": "active, completed, terminated, incident"})
    definition_xml = fields.String(metadata={"description": "BPMN 2.0 XML of the deployed definition"})
    active_activity_ids = fields.List(fields.String())
    completed_activity_ids = fields.List(fields.String())
    incidents = fields.List(fields.String())


class ErrorBodySchema(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema)


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
    page = fields.Integer(load_default=1)
    page_size = fields.Integer(load_default=20)


class UnreadCountSchema(Schema):
    unread = fields.Integer()
