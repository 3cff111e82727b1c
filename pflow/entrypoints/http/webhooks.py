"""Webhook endpoints (admins): register, change, re-enable, remove, read the delivery log, send a test event."""

from __future__ import annotations

from flask.views import MethodView

from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.outbound_schemas import (
    WebhookCreatedSchema,
    WebhookDeliveryArgsSchema,
    WebhookDeliveryListSchema,
    WebhookInputSchema,
    WebhookListSchema,
    WebhookSchema,
    WebhookTestResultSchema,
    WebhookUpdateSchema,
)
from pflow.entrypoints.http.parsing import Blueprint
from pflow.service.webhooks import present_endpoint

blp = Blueprint("webhooks", __name__, url_prefix="/api",
                description="Webhooks: other systems (or Slack, Teams) told of ticket events (admins)")

E403 = "Only an admin can manage webhooks"
E404 = "No such webhook"


def _webhooks():
    return container().webhooks()


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, WebhookListSchema)
    @blp.errors(401, 403, 503, e403=E403)
    def get(self):
        """Every webhook endpoint, oldest first (without their secrets)."""
        return {"items": [present_endpoint(e) for e in _webhooks().list(current_user())]}

    @blp.arguments(WebhookInputSchema)
    @blp.response(201, WebhookCreatedSchema)
    @blp.errors(400, 401, 403, 503, e403=E403)
    def post(self, data):
        """Register an endpoint for the event types it wants. Each call is signed with its secret
        (X-PFlow-Signature: sha256=HMAC of "<X-PFlow-Timestamp>.<body>"); the answer shows the secret, made by
        PFlow when none is given, this once only. 422 names the field."""
        endpoint = _webhooks().register(current_user(), url=data["url"], event_types=data["event_types"],
                                        format=data["format"], description=data["description"],
                                        secret=data.get("secret"))
        return {**present_endpoint(endpoint), "secret": endpoint.secret}


@blp.route("/webhooks/<id:webhook_id>")
class Webhook(MethodView):
    @blp.response(200, WebhookSchema)
    @blp.errors(401, 403, 404, 503, e403=E403, e404=E404)
    def get(self, webhook_id):
        """One endpoint (without its secret)."""
        return present_endpoint(_webhooks().get(current_user(), webhook_id))

    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.errors(400, 401, 403, 404, 503, e403=E403, e404=E404)
    def patch(self, data, webhook_id):
        """Change what is given. ``active: true`` enables an endpoint PFlow disabled after failed deliveries
        (or an admin paused) again, its failure count from zero: the deliveries still waiting go out at their
        next attempt. ``active: false`` pauses it. 422 names the field."""
        return present_endpoint(_webhooks().update(current_user(), webhook_id, **data))

    @blp.response(204)
    @blp.errors(401, 403, 404, 503, e403=E403, e404=E404)
    def delete(self, webhook_id):
        """Remove the endpoint: nothing more is sent to it."""
        _webhooks().remove(current_user(), webhook_id)
        return None


@blp.route("/webhooks/<id:webhook_id>/deliveries")
@blp.arguments(WebhookDeliveryArgsSchema, location="query")
@blp.response(200, WebhookDeliveryListSchema)
@blp.errors(401, 403, 404, 503, e403=E403, e404=E404)
def deliveries(args, webhook_id):
    """The endpoint's delivery log, newest first: each event sent (or still being tried), its attempts and
    the last answer."""
    return {"items": _webhooks().deliveries(current_user(), webhook_id, args["limit"])}


@blp.route("/webhooks/<id:webhook_id>/test", methods=["POST"])
@blp.response(200, WebhookTestResultSchema)
@blp.errors(401, 403, 404, 503, e403=E403, e404=E404)
def send_test(webhook_id):
    """Send a ``ping`` event to the endpoint now (also while it is disabled) and answer how it went; the call is
    in the delivery log. A failed test is not retried."""
    result = _webhooks().send_test(current_user(), webhook_id)
    return {"status": result.status, "response_code": result.response_code, "latency_ms": result.latency_ms,
            "error": result.error}
