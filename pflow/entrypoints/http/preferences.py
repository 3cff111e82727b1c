"""What each person receives (in the app, by e-mail, as a daily digest), and the defaults admins set."""

from __future__ import annotations

from flask.views import MethodView

from pflow.domain.errors import PermissionDenied, ValidationError
from pflow.domain.outbound import PREFERENCE_CHANNELS, PREFERENCE_KINDS, Preferences, preferences_problem
from pflow.entrypoints.http.context import container, current_user
from pflow.entrypoints.http.outbound_schemas import MyPreferencesSchema, PreferencesInputSchema, PreferencesSchema
from pflow.entrypoints.http.parsing import Blueprint

blp = Blueprint("preferences", __name__, url_prefix="/api",
                description="Notification preferences: yours, and the defaults (admins)")


def _preferences():
    return container().preferences()


def _full(p: Preferences) -> dict:
    """Every channel and kind (``p`` merged over the built-in defaults)."""
    return {"channels": {c: {k: p.wants(c, k) for k in PREFERENCE_KINDS} for c in PREFERENCE_CHANNELS},
            "digest": bool(p.digest)}


def _chosen(p: Preferences) -> dict:
    chosen = p.to_dict()
    return {"channels": {c: chosen["channels"].get(c, {}) for c in PREFERENCE_CHANNELS}, "digest": chosen["digest"]}


def _read(data: dict) -> Preferences:
    problems = preferences_problem(data)
    if problems:
        raise ValidationError("The preferences have invalid fields.", {f: [m] for f, m in problems.items()})
    return Preferences.from_dict(data)


def _mine() -> dict:
    user, service = current_user(), _preferences()
    return {**_full(service.effective(user.username)), "own": _chosen(service.own(user.username)),
            "email": user.email or None, "email_enabled": bool(container().settings().email_enabled)}


def _require_admin() -> None:
    if not current_user().is_admin:
        raise PermissionDenied("Only an admin can set the default preferences.", key="auth.admins_only")


@blp.route("/me/preferences")
class MyPreferences(MethodView):
    @blp.response(200, MyPreferencesSchema)
    @blp.errors(401, 503)
    def get(self):
        """What you receive, per channel (in_app, email) and kind (new_task, decision, reminder, failure): your
        choices (``own``) over the admins' defaults."""
        return _mine()

    @blp.arguments(PreferencesInputSchema)
    @blp.response(200, MyPreferencesSchema)
    @blp.errors(400, 401, 503)
    def put(self, data):
        """Replace your choices: what you leave out takes the defaults. 422 names the field
        (e.g. channels.email.bogus)."""
        _preferences().set_own(current_user().username, _read(data))
        return _mine()


@blp.route("/admin/preferences")
class DefaultPreferences(MethodView):
    @blp.response(200, PreferencesSchema)
    @blp.errors(401, 403, 503, e403="Only an admin can see and set the defaults")
    def get(self):
        """The defaults: what everyone receives where they chose nothing."""
        _require_admin()
        return _full(_preferences().defaults())

    @blp.arguments(PreferencesInputSchema)
    @blp.response(200, PreferencesSchema)
    @blp.errors(400, 401, 403, 503, e403="Only an admin can see and set the defaults")
    def put(self, data):
        """Replace the defaults (what is left out is on; e-mails one by one). 422 names the field."""
        _require_admin()
        return _full(_preferences().set_defaults(_read(data)))
