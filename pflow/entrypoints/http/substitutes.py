"""The logged-in user's substitute: who acts for them while they are away, and whom they stand in for."""

from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView

from pflow.domain.substitutes import Substitution
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.parsing import Blueprint
from pflow.entrypoints.http.schemas import SubstituteInputSchema, SubstituteStateSchema

blp = Blueprint("substitutes", __name__, url_prefix="/api",
                description="Substitutes: who decides your steps while you are away")


def present_substitution(s: Substitution | None) -> dict | None:
    if s is None:
        return None
    return {"user": s.user, "substitute": s.substitute, "starts": s.starts, "ends": s.ends, "created": s.created,
            "active": s.active(datetime.now(timezone.utc))}


def _state() -> dict:
    service, user = container().tickets(), current_user()
    return {"substitute": present_substitution(service.substitute(user)),
            "standing_in_for": [present_substitution(s) for s in service.substitutions_for(user)]}


@blp.route("/me/substitute")
class MySubstitute(MethodView):
    @blp.response(200, SubstituteStateSchema)
    @blp.errors(401, 503)
    def get(self):
        """The substitute you named, and whom you stand in for now."""
        return _state()

    @blp.arguments(SubstituteInputSchema)
    @blp.response(200, SubstituteStateSchema)
    @blp.errors(400, 401, 503)
    def put(self, data):
        """Name who acts for you from ``starts`` (now when left out) until ``ends``: they see your steps and decide
        them on your behalf, each decision recorded as theirs on your behalf; separation of duties holds for both of
        you. Replaces a substitute named before. 422 names the field: an unknown user, yourself, an end before the
        start or in the past."""
        container().tickets().name_substitute(current_user(), data["substitute"], data.get("starts"), data["ends"])
        return _state()

    @blp.response(204)
    @blp.errors(401, 503)
    def delete(self):
        """End your substitution now (nothing happens when there is none)."""
        container().tickets().remove_substitute(current_user())
        return None
