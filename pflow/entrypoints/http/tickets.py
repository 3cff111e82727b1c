"""Ticket routes: parse input, call one use case, present the result."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from pflow.domain.errors import PermissionDenied
from pflow.domain.model import HistoryEntry, Ticket, attention_code
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import (
    AssigneeSchema,
    CommentSchema,
    CompleteTaskSchema,
    HistoryEntrySchema,
    PageArgsSchema,
    ProcessSchema,
    RejectSchema,
    TaskListArgsSchema,
    TaskPageSchema,
    TaskSchema,
    TicketInputSchema,
    TicketListArgsSchema,
    TicketPageSchema,
    TicketSchema,
    TicketTypeSchema,
    TicketUpdateSchema,
)
from pflow.domain.steps import FormField, Step
from pflow.domain.users import User
from pflow.ports.repository import Page, TaskItem, TaskQuery, TicketQuery, is_overdue

blp = Blueprint("tickets", __name__, url_prefix="/api", description="Ticket types, tickets and the steps of their processes")


def _type_name(key: str) -> str:
    try:
        return _tickets().catalog.get(key).name()
    except Exception:  # a type removed from the catalog since: show its key
        return key


def present_field(f: FormField) -> dict:
    return {"id": f.id, "label": f.label, "type": f.type, "required": f.required, "default": f.default,
            "values": [{"id": v, "name": n} for v, n in f.values], "decision": f.is_decision}


def standing_in_for(user: User) -> tuple[User, ...]:
    """Whom the caller substitutes now, read once per request."""
    cached = g.get("standing_in_for")
    if cached is None or cached[0] != user.username:
        cached = g.standing_in_for = (user.username, _tickets().standing_in_for(user))
    return cached[1]


def present_step(step: Step, ticket: Ticket, user: User) -> dict:
    principals = standing_in_for(user)
    service = _tickets()
    refusal, principal = service.acting(user, ticket, step, principals)
    holders = {user.username} | {p.username for p in principals}
    can_claim = not step.assignee and refusal is None
    can_unclaim = bool(step.assignee) and (step.assignee in holders or user.is_admin)
    return {"id": step.task_id, "step": step.definition_key, "name": step.name,
            "candidate_groups": list(step.candidate_groups), "candidate_users": list(step.candidate_users),
            "assignee": step.assignee, "due": step.due, "overdue": is_overdue(step, container().clock()()),
            "created_at": step.created_at,
            "form": [present_field(f) for f in step.form], "can_complete": refusal is None, "refusal": refusal,
            "on_behalf_of": principal.username if principal is not None and refusal is None else None,
            "can_claim": can_claim, "can_unclaim": can_unclaim}


def present(ticket: Ticket) -> dict:
    user = current_user()
    code = attention_code(ticket.attention)
    return {
        **{k: getattr(ticket, k) for k in ("id", "type", "title", "fields", "requester",
                                            "created_at", "updated_at", "version")},
        # An automated step's error names internals (an exception and its text): the admins read it, everyone
        # else a stable code they can word.
        "attention": ticket.attention if user.is_admin else code,
        "attention_key": f"attention.{code}" if code else None,
        "type_name": _type_name(ticket.type),
        "status": ticket.status.value,
        "current_steps": list(ticket.current_steps),
        "results": dict(ticket.results),
        "steps": [present_step(s, ticket, user) for s in ticket.steps],
        "allowed_actions": _tickets().allowed_actions(user, ticket, standing_in_for(user)),
    }


def present_page(page: Page[Ticket]) -> dict:
    return {"items": [present(t) for t in page.items], "total": page.total, "page": page.page,
            "page_size": page.page_size}


def present_task(item: TaskItem) -> dict:
    t = item.ticket
    return {**present_step(item.step, t, current_user()),
            "ticket": {"id": t.id, "type": t.type, "type_name": _type_name(t.type), "title": t.title,
                       "requester": t.requester, "status": t.status.value, "fields": t.fields,
                       "created_at": t.created_at}}


def _tickets():
    return container().tickets()


@blp.route("/ticket-types")
@blp.response(200, TicketTypeSchema(many=True))
@blp.errors(401)
def ticket_types():
    """What can be asked for: each type's name, description, process and form (a JSON Schema)."""
    catalog = _tickets().catalog
    return [{"key": t.key, "name": t.name(), "names": t.names, "description": t.description(),
             "descriptions": t.descriptions, "process_key": t.process_key, "default": t.key == catalog.default.key,
             "summary_fields": list(t.summary_fields), "form": t.form} for t in catalog.list()]


@blp.route("/tickets")
class Tickets(MethodView):
    @blp.arguments(TicketListArgsSchema, location="query")
    @blp.response(200, TicketPageSchema)
    @blp.errors(401, 503)
    def get(self, args):
        """List tickets, newest first. Requesters see only their own."""
        query = TicketQuery(status=args.get("status"), type=args.get("type"), requester=args.get("requester"),
                            text=args.get("q") or None, sort=args.get("sort"), page=args["page"],
                            page_size=args["page_size"])
        return present_page(_tickets().list(current_user(), query))

    @blp.arguments(TicketInputSchema)
    @blp.response(201, TicketSchema)
    @blp.errors(400, 401, 403, 503)
    def post(self, data):
        """Create a draft ticket of a type (the default type when none is named); the caller is its requester."""
        return present(_tickets().create(current_user(), data))


@blp.route("/tickets/<id:ticket_id>")
class TicketResource(MethodView):
    @blp.response(200, TicketSchema)
    @blp.errors(401, 404, 503)
    def get(self, ticket_id):
        """One ticket, with its open steps and what the caller may do on each."""
        return present(_tickets().get(current_user(), ticket_id))

    @blp.arguments(TicketUpdateSchema)
    @blp.response(200, TicketSchema)
    @blp.errors(400, 401, 404, 409, 503)
    def patch(self, data, ticket_id):
        """Edit a draft (requester or admin). Send ``version`` to be told (409) if it changed meanwhile."""
        version = data.pop("version", None)
        return present(_tickets().update(current_user(), ticket_id, data, expected_version=version))

    @blp.response(204)
    @blp.errors(401, 403, 404, 409, 503)
    def delete(self, ticket_id):
        """Delete a draft (requester or admin)."""
        _tickets().delete(current_user(), ticket_id)
        return None


@blp.route("/tickets/<id:ticket_id>/submit", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def submit(ticket_id):
    """Start the ticket's process (its type names it), with its fields as process variables."""
    return present(_tickets().submit(current_user(), ticket_id))


@blp.route("/tickets/<id:ticket_id>/approve", methods=["POST"])
@blp.arguments(CommentSchema, required=False)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def approve(data, ticket_id):
    """Approve the one decision step open for you on this ticket (a shortcut for completing its task)."""
    return present(_tickets().approve(current_user(), ticket_id, (data or {}).get("comment")))


@blp.route("/tickets/<id:ticket_id>/reject", methods=["POST"])
@blp.arguments(RejectSchema)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def reject(data, ticket_id):
    """Reject, saying why, on the one decision step open for you on this ticket."""
    return present(_tickets().reject(current_user(), ticket_id, data.get("comment")))


@blp.route("/tickets/<id:ticket_id>/withdraw", methods=["POST"])
@blp.arguments(CommentSchema, required=False)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def withdraw(data, ticket_id):
    """Take back a ticket in progress (requester or admin): its process is cancelled."""
    return present(_tickets().withdraw(current_user(), ticket_id, (data or {}).get("comment")))


@blp.route("/tickets/<id:ticket_id>/resubmit", methods=["POST"])
@blp.response(201, TicketSchema)
@blp.errors(401, 403, 404, 409, 503)
def resubmit(ticket_id):
    """A new draft pre-filled from a rejected or withdrawn ticket."""
    return present(_tickets().resubmit(current_user(), ticket_id))


@blp.route("/tickets/<id:ticket_id>/retry", methods=["POST"])
@blp.arguments(CommentSchema, required=False)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def retry(data, ticket_id):
    """Retry the failed automated step of a ticket that needs attention (admins); audited."""
    retried = _tickets().retry(current_user(), ticket_id, (data or {}).get("comment"))
    audit.ticket_repaired(current_user(), "retry", ticket_id)
    return present(retried)


@blp.route("/tickets/<id:ticket_id>/reconcile", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(401, 403, 404, 409, 503, e403="Only an admin can repair a ticket")
def reconcile(ticket_id):
    """Repair: bring the ticket in line with its process instance now (admins; also runs periodically)."""
    user = current_user()
    if not user.is_admin:
        raise PermissionDenied("Only an admin can repair a ticket.", key="ticket.repair_admin_only")
    _tickets().get(user, ticket_id)
    repaired = _tickets().sync(ticket_id)
    audit.ticket_repaired(user, "reconcile", ticket_id)
    return present(repaired)


@blp.route("/tickets/<id:ticket_id>/history")
@blp.response(200, HistoryEntrySchema(many=True))
@blp.errors(401, 404, 503)
def history(ticket_id):
    """The audit trail: who did what, when, with which values, and why."""
    user = current_user()
    return [present_entry(h, user) for h in _tickets().history(user, ticket_id)]


#: history actions whose comment, when the system wrote it, was an automated step's error (older entries)
_ERROR_ACTIONS = {"needs_attention", "provisioning_failed"}


def present_entry(entry: HistoryEntry, user: User) -> dict:
    """One history entry; an automated step's error only for admins (others get its ``error_key``)."""
    data = {k: getattr(entry, k) for k in ("at", "actor", "action", "from_status", "to_status", "comment")}
    details = dict(entry.details)
    if not user.is_admin:
        if "error" in details:
            code = attention_code(details.pop("error")) or "step_failed"
            details["error_key"] = f"attention.{code}"
        if entry.action in _ERROR_ACTIONS and entry.actor == "system":
            data["comment"] = None
    data["details"] = details
    return data


@blp.route("/tickets/<id:ticket_id>/process")
@blp.response(200, ProcessSchema)
@blp.errors(401, 404, 503)
def process(ticket_id):
    """The BPMN of the ticket's process and which steps are done and open, from the running engine."""
    return _tickets().process(current_user(), ticket_id)


@blp.route("/tasks")
@blp.arguments(TaskListArgsSchema, location="query")
@blp.response(200, TaskPageSchema)
@blp.errors(401, 503)
def tasks(args):
    """Your inbox: open steps you may complete now (assigned to you, offered to you or to a group of yours)."""
    query = TaskQuery(username=current_user().username, type=args.get("type"), group=args.get("group"),
                      step=args.get("step"), ticket_status=args.get("status"), text=args.get("q") or None,
                      overdue=args.get("overdue"), at=container().clock()(), sort=args["sort"], page=args["page"], page_size=args["page_size"])
    page = _tickets().tasks(current_user(), query)
    return {"items": [present_task(i) for i in page.items], "total": page.total, "page": page.page,
            "page_size": page.page_size}


@blp.route("/tasks/<id:task_id>")
@blp.response(200, TaskSchema)
@blp.errors(401, 404, 503)
def task(task_id):
    """One open step with its ticket."""
    return present_task(_tickets().task(current_user(), task_id))


@blp.route("/tasks/<id:task_id>/complete", methods=["POST"])
@blp.arguments(CompleteTaskSchema)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503)
def complete_task(data, task_id):
    """Complete a step with its form values (and a comment, required for a rejection)."""
    return present(_tickets().complete_task(current_user(), task_id, data["variables"], data.get("comment")))


@blp.route("/tasks/<id:task_id>/claim", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(401, 403, 404, 409, 503)
def claim_task(task_id):
    """Claim a step offered to you or your group (or, as a substitute, to the one you stand in for), so the other
    candidates no longer see it; 409 naming who, when someone holds it already."""
    return present(_tickets().claim(current_user(), task_id))


@blp.route("/tasks/<id:task_id>/unclaim", methods=["POST"])
@blp.response(200, TicketSchema)
@blp.errors(401, 403, 404, 409, 503)
def unclaim_task(task_id):
    """Give a step you hold (or the one you stand in for holds) back to its candidates; admins may for anyone."""
    return present(_tickets().unclaim(current_user(), task_id))


@blp.route("/tasks/<id:task_id>/assignee", methods=["PUT"])
@blp.arguments(AssigneeSchema)
@blp.response(200, TicketSchema)
@blp.errors(400, 401, 403, 404, 409, 503, e403="Only an admin can reassign a step")
def reassign_task(data, task_id):
    """Give a step to someone (admins): a known user whom separation of duties lets complete it; null gives it
    back to its candidates. Audited."""
    return present(_tickets().reassign(current_user(), task_id, data["assignee"]))


@blp.route("/approvals")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, TicketPageSchema)
@blp.errors(401, 503)
def approvals(args):
    """Tickets with a decision step you may take now, oldest first (the older form of /api/tasks)."""
    user = current_user()
    page = _tickets().tasks(user, TaskQuery(username=user.username, page=args["page"], page_size=args["page_size"]))
    return {"items": [present(i.ticket) for i in page.items], "total": page.total, "page": page.page,
            "page_size": page.page_size}
