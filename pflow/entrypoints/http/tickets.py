"""Ticket routes: parse input, call one use case, present the result."""

from __future__ import annotations

from flask.views import MethodView

from pflow.domain.errors import PermissionDenied
from pflow.domain.model import Ticket
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import (
    CommentSchema,
    HistoryEntrySchema,
    PageArgsSchema,
    ProcessSchema,
    RejectSchema,
    TicketInputSchema,
    TicketListArgsSchema,
    TicketPageSchema,
    TicketSchema,
    TicketUpdateSchema,
)
from pflow.ports.repository import Page, TicketQuery

blp = Blueprint("tickets", __name__, url_prefix="/api", description="Create tickets and move them through approval")


def present(ticket: Ticket) -> dict:
    return {
        **{k: getattr(ticket, k) for k in ("id", "title", "description", "amount", "requester", "approver",
                                            "fulfilment_reference", "created_at", "updated_at", "version")},
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "allowed_actions": container().tickets().allowed_actions(current_user(), ticket),
    }


def present_page(page: Page[Ticket]) -> dict:
    return {"items": [present(t) for t in page.items], "total": page.total, "page": page.page,
            "page_size": page.page_size}


def _tickets():
    return container().tickets()


@blp.route("/tickets")
class Tickets(MethodView):
    @blp.arguments(TicketListArgsSchema, location="query")
    @blp.response(200, TicketPageSchema)
    @blp.errors(401, 503)
    def get(self, args):
        """List tickets, newest first. Requesters see only their own."""
        query = TicketQuery(status=args.get("status"), requester=args.get("requester"), text=args.get("q") or None,
                            page=args["page"], page_size=args["page_size"])
        return present_page(_tickets().list(current_user(), query))

    @blp.arguments(TicketInputSchema)
    @blp.response(201, TicketSchema)
    @blp.errors(400, 401, 403, 503)
    def post(self, data):
        """Create a draft ticket; the caller is its requester."""
        return present(_tickets().create(current_user(), data))


@blp.route("/tickets/<id:ticket_id>")
class TicketItem(MethodView):
    @blp.response(200, TicketSchema)
    @blp.errors(401, 404, 503)
    def get(self, ticket_id):
        """One ticket."""
        return present(_tickets().get(current_user(), ticket_id))

    @blp.arguments(TicketUpdateSchema)
    @blp.response(200, TicketSchema)
    @blp.errors(400, 401, 404, 409, 503)
    def patch(self, data, ticket_id):
        """Edit a draft (requester or admin). Send ``version`` to be told (409) if it changed meanwhile."""
        version = data.pop("version", None)
        return present(_tickets().update(current_user(), ticket_id, data, expected_version=version))


@blp.route("/tickets/<id:ticket_id>/submit", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(401, 404, 409, 503)
def submit(ticket_id):
    """Send a draft for approval: starts the ``ticket_approval`` process with the ticket id as business key."""
    return present(_tickets().submit(current_user(), ticket_id))


@blp.route("/tickets/<id:ticket_id>/approve", methods=["POST"])
@blp.arguments(CommentSchema, required=False)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def approve(data, ticket_id):
    """Approve (managers; not your own ticket). Provisioning starts right after."""
    return present(_tickets().approve(current_user(), ticket_id, (data or {}).get("comment")))


@blp.route("/tickets/<id:ticket_id>/reject", methods=["POST"])
@blp.arguments(RejectSchema)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def reject(data, ticket_id):
    """Reject with a comment saying why (managers; not your own ticket)."""
    return present(_tickets().reject(current_user(), ticket_id, data.get("comment")))


@blp.route("/tickets/<id:ticket_id>/retry-provisioning", methods=["POST"])
@blp.arguments(CommentSchema, required=False)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def retry_provisioning(data, ticket_id):
    """Retry failed provisioning (admins); audited in the history."""
    return present(_tickets().retry_provisioning(current_user(), ticket_id, (data or {}).get("comment")))


@blp.route("/tickets/<id:ticket_id>/reconcile", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(401, 403, 404, 409, 503, e403="Only an admin can repair a ticket")
def reconcile(ticket_id):
    """Repair: bring the ticket in line with its process instance now (admins; also runs periodically)."""
    user = current_user()
    if not user.is_admin:
        raise PermissionDenied("Only an admin can repair a ticket.")
    _tickets().get(user, ticket_id)
    return present(_tickets().reconcile(ticket_id))


@blp.route("/tickets/<id:ticket_id>/history")
@blp.response(200, HistoryEntrySchema(many=True))
@blp.errors(401, 404, 503)
def history(ticket_id):
    """The audit trail: who did what, when, from which status to which, and why."""
    return _tickets().history(current_user(), ticket_id)


@blp.route("/tickets/<id:ticket_id>/process")
@blp.response(200, ProcessSchema)
@blp.errors(401, 404, 503)
def process(ticket_id):
    """The BPMN of the ticket's process and which steps are done and open, from the running engine."""
    return _tickets().process(current_user(), ticket_id)


@blp.route("/approvals")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, TicketPageSchema)
@blp.errors(401, 403, 503, e403="Only managers have an approval inbox")
def approvals(args):
    """Managers' inbox: tickets awaiting a decision, oldest first (your own are left out)."""
    return present_page(_tickets().inbox(current_user(), args["page"], args["page_size"]))
