"""An unreachable database: the API answers 503 naming it, and /readyz says which dependency is down."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from pflow.container import build_container, shutdown
from pflow.entrypoints.http import create_app
from pflow.entrypoints.http.auth import SALT
from tests.conftest import ApiClient
from tests.support import TEST_USERS, settings_for


def test_an_unreachable_sqlite_database_gives_503_naming_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    container = build_container(settings_for("sqlite", tmp_path, database_url=f"sqlite:///{blocker}/pflow.db"))
    container.users.override(TEST_USERS)
    try:
        app = create_app(container)
        api = ApiClient(app)
        # logging in needs the database too (failed-login counts live there): refused, never let through
        r = api.client.post("/api/auth/login", json={"username": "alice", "password": "alice"})
        assert r.status_code == 503 and r.json["error"]["details"]["dependency"] == "database"
        token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).dumps({"u": "alice", "g": 0})
        r = api.client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503
        error = r.json["error"]
        assert error["details"]["dependency"] == "database"
        # The client learns what is down; where the file is and what to do stay in the server's log.
        assert error["message"] == "The database is unavailable; try again in a moment."
        assert str(blocker) not in str(r.json)
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json["error"]["details"]["unavailable"] == ["database"]
        assert ready.json["checks"]["event_broker"] == "ok"
    finally:
        shutdown(container)
