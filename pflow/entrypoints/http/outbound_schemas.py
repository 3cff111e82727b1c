"""Request and response schemas of webhooks and notification preferences (they also generate the OpenAPI
document). Their limits and messages are the service's (``pflow.service.webhooks``), word for word, so data
the document allows is data the service takes."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from pflow.domain.outbound import PREFERENCE_KINDS, WEBHOOK_FORMATS
from pflow.entrypoints.http.schemas import Text, length, sent
from pflow.service import webhooks as w


class StrictBoolean(fields.Boolean):
    """true or false, nothing else ("yes", 1 and "true" are refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):  # 0 and 1 equal False and True in Python
            raise self.make_error("invalid", input=value)
        return value


class Object(fields.Nested):
    """A nested object; anything else is refused naming this field (not its ``_schema``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Must be an object.")
        return super()._deserialize(value, attr, data, **kwargs)


def _url(**kwargs) -> Text:
    return Text(validate=[length(w.URL_MAX)], pattern=w.URL_PATTERN, pattern_error=w.URL_MESSAGE,
                metadata={"description": "where PFlow POSTs each event: an http:// or https:// URL"}, **kwargs)


def _event_types(**kwargs) -> fields.List:
    return fields.List(
        Text(validate=[length(w.PATTERN_MAX)], pattern=w.EVENT_PATTERN, pattern_error=w.EVENT_PATTERN_MESSAGE),
        validate=validate.Length(min=1, max=w.EVENT_TYPES_MAX, error=f"Must be between 1 and {w.EVENT_TYPES_MAX}."),
        metadata={"description": "the event types the endpoint receives: names (task.created) or patterns "
                                 "(ticket.*, task.*, * for all)"}, **kwargs)


def _format(**kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf(WEBHOOK_FORMATS, error="Must be one of: {choices}."),
                         metadata={"description": "json: PFlow's event (docs/events.md); slack: a Block Kit "
                                                  "message; teams: a MessageCard"}, **kwargs)


def _description(**kwargs) -> Text:
    return Text(validate=[length(w.DESCRIPTION_MAX)], metadata={"description": "what the endpoint is for"},
                **kwargs)


class WebhookInputSchema(Schema):
    url = _url(required=True)
    event_types = _event_types(required=True)
    format = _format(load_default="json")
    description = _description(load_default="")
    secret = Text(load_default=None, allow_none=True, load_only=True,
                  validate=[validate.Length(min=w.SECRET_MIN, error="Must be at least {min} characters."),
                            length(w.SECRET_MAX)],
                  metadata={"description": f"signs each call (HMAC-SHA256, {w.SECRET_MIN}-{w.SECRET_MAX} "
                                           "characters); made by PFlow when left out"})


class WebhookUpdateSchema(Schema):
    url = _url()
    event_types = _event_types()
    format = _format()
    description = _description()
    active = StrictBoolean(metadata={"description": "true enables the endpoint again (its failure count starts "
                                                    "from zero); false pauses it"})


@sent
class WebhookSchema(Schema):
    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    format = fields.String(metadata={"description": "json, slack or teams"})
    description = fields.String()
    active = fields.Boolean(metadata={"description": "false: paused by an admin, or disabled after failures "
                                                     "(disabled_reason)"})
    consecutive_failures = fields.Integer(metadata={"description": "failed deliveries in a row"})
    disabled_reason = fields.String(allow_none=True, metadata={
        "description": "why PFlow disabled the endpoint; null when active or paused by an admin"})
    created_at = fields.DateTime()
    created_by = fields.String()


@sent
class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "the signing secret; shown this once only"})


@sent
class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema))


class WebhookDeliveryArgsSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=w.DELIVERIES_MAX,
                                                                    error="Must be between {min} and {max}."),
                           metadata={"description": f"1 to {w.DELIVERIES_MAX}"})


@sent
class WebhookDeliverySchema(Schema):
    id = fields.String(metadata={"description": "the X-PFlow-Delivery header of its calls"})
    event_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending (to be tried again at next_attempt_at), sent, failed "
                                                    "(given up)"})
    attempts = fields.Integer()
    response_code = fields.Integer(allow_none=True, metadata={"description": "the HTTP status of the last "
                                                                             "attempt; null when none came"})
    latency_ms = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime()


@sent
class WebhookDeliveryListSchema(Schema):
    items = fields.List(fields.Nested(WebhookDeliverySchema), metadata={"description": "newest first"})


@sent
class WebhookTestResultSchema(Schema):
    status = fields.String(metadata={"description": "sent or failed"})
    response_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


# --- preferences

def _kinds_schema(name: str, *, required: bool, input: bool) -> type[Schema]:
    def field():
        if input:
            return StrictBoolean()
        return fields.Boolean(required=required, allow_none=not required)

    return type(name, (Schema,), {kind: field() for kind in PREFERENCE_KINDS})


PreferenceKindsSchema = sent(_kinds_schema("PreferenceKindsSchema", required=True, input=False))
ChosenKindsSchema = _kinds_schema("ChosenKindsSchema", required=False, input=False)
PreferenceKindsInputSchema = _kinds_schema("PreferenceKindsInputSchema", required=False, input=True)


@sent
class PreferenceChannelsSchema(Schema):
    in_app = fields.Nested(PreferenceKindsSchema)
    email = fields.Nested(PreferenceKindsSchema)


class ChosenChannelsSchema(Schema):
    in_app = fields.Nested(ChosenKindsSchema)
    email = fields.Nested(ChosenKindsSchema)


class PreferenceChannelsInputSchema(Schema):
    in_app = Object(PreferenceKindsInputSchema)
    email = Object(PreferenceKindsInputSchema)


class ChosenPreferencesSchema(Schema):
    channels = fields.Nested(ChosenChannelsSchema, required=True)
    digest = fields.Boolean(required=True, allow_none=True, metadata={"description": "null: not chosen"})


class PreferencesInputSchema(Schema):
    channels = Object(PreferenceChannelsInputSchema, load_default=dict, metadata={
        "description": "channel -> kind -> true|false; what is left out takes the defaults"})
    digest = StrictBoolean(load_default=None, allow_none=True, metadata={
        "description": "true: e-mails gathered in one a day; null: the default"})


@sent
class PreferencesSchema(Schema):
    channels = fields.Nested(PreferenceChannelsSchema, metadata={"description": "what you receive, your choices "
                                                                                "over the defaults"})
    digest = fields.Boolean()


@sent
class MyPreferencesSchema(PreferencesSchema):
    own = fields.Nested(ChosenPreferencesSchema, metadata={"description": "what you chose (missing or null: the "
                                                                          "default)"})
    email = fields.String(allow_none=True, metadata={"description": "where your e-mails go; null: none known"})
    email_enabled = fields.Boolean(metadata={"description": "whether PFlow sends e-mail at all (SMTP_HOST)"})
