"""In-app notifications of the logged-in user."""

from __future__ import annotations

from flask.views import MethodView

from pflow.domain.notifications import Notification
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import (
    NotificationArgsSchema,
    NotificationPageSchema,
    NotificationSchema,
    UnreadCountSchema,
)

blp = Blueprint("notifications", __name__, url_prefix="/api", description="What happened to your tickets")


def present(n: Notification) -> dict:
    return {"id": n.id, "ticket_id": n.ticket_id, "kind": n.kind, "message": n.message, "params": n.params,
            "created_at": n.created_at, "read_at": n.read_at}


def _notifications():
    return container().notifications()


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    @blp.errors(401, 503)
    def get(self, args):
        """Your notifications, newest first, with the number still unread."""
        page = _notifications().list(current_user(), unread_only=args["unread_only"], page=args["page"],
                                     page_size=args["page_size"])
        return {"items": [present(n) for n in page.items], "total": page.total, "unread": page.unread,
                "page": page.page, "page_size": page.page_size}


@blp.route("/notifications/read-all", methods=["POST"])
@blp.response(200, UnreadCountSchema)
@blp.errors(401, 503)
def read_all():
    """Mark all your notifications read."""
    _notifications().mark_all_read(current_user())
    return {"unread": 0}


@blp.route("/notifications/<id:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@blp.errors(401, 404, 503, e404="No such notification of yours")
def read(notification_id):
    """Mark one of your notifications read (again is fine: the first time counts)."""
    return present(_notifications().mark_read(current_user(), notification_id))
