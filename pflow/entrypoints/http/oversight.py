"""Across tickets: the dashboard's figures, the tickets whose automated step failed, and the user directory."""

from __future__ import annotations

from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import DirectorySchema, IncidentPageSchema, StatsArgsSchema, StatsSchema

blp = Blueprint("oversight", __name__, url_prefix="/api", description="Dashboard, incidents and users (admins)")


def _oversight():
    return container().oversight()


@blp.route("/stats")
@blp.arguments(StatsArgsSchema, location="query")
@blp.response(200, StatsSchema)
@blp.errors(401, 403, 503, e403="Only admins and members of a group can see the dashboard")
def stats(args):
    """The dashboard: open steps per group and age, time to decide per type and per step, tickets created and
    decided per week, and the share rejected, over the last ``weeks`` weeks (this one included)."""
    return _oversight().stats(current_user(), args["weeks"], now=container().clock()())


@blp.route("/incidents")
@blp.response(200, IncidentPageSchema)
@blp.errors(401, 403, 503, e403="Only an admin can see incidents")
def incidents():
    """Tickets whose automated step failed (or whose process stopped), the latest first, with the full error
    and the retries left; retry one with POST /api/tickets/<id>/retry."""
    items = _oversight().incidents(current_user())
    return {"items": [vars(i) for i in items], "total": len(items)}


@blp.route("/users")
@blp.response(200, DirectorySchema)
@blp.errors(401, 403, e403="Only an admin can see the users")
def users():
    """The users and groups of the user directory (read-only)."""
    people, groups = _oversight().directory(current_user())
    return {"users": [{"username": u.username, "name": u.display_name or u.username, "roles": sorted(u.roles),
                       "groups": sorted(u.groups)} for u in people],
            "groups": [{"name": name, "members": members} for name, members in groups.items()]}
