"""PFlow on a real PostgreSQL: racing completions of one step, an unreachable database, migrations, the relay lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from pflow.adapters.database.migrate import current_revision, head_revision
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import REPO_ROOT, TEST_USERS, build_stack, pg_url, require_postgres, reset_postgres

pytestmark = pytest.mark.integration

APPROVERS = 8


def test_concurrent_approvals_of_one_ticket_one_wins(tmp_path):
    stack = build_stack("postgres", tmp_path)
    try:
        app = create_app(stack.container)
        api = ApiClient(app)
        ticket_id = api.post("/api/tickets", "alice", json={"title": "Raced"}).json["id"]
        assert api.post(f"/api/tickets/{ticket_id}/submit", "alice").status_code == 200
        tokens = [api.token(name) for name in ("bob", "dave")]
        barrier = threading.Barrier(APPROVERS)
        statuses: list[int] = []

        def approve(i: int) -> None:
            client = app.test_client(use_cookies=False)
            barrier.wait()
            r = client.post(f"/api/tickets/{ticket_id}/approve", json={"comment": f"approver {i}"},
                            headers={"Authorization": f"Bearer {tokens[i % 2]}"})
            statuses.append(r.status_code)

        threads = [threading.Thread(target=approve, args=(i,)) for i in range(APPROVERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert Counter(statuses) == {200: 1, 409: APPROVERS - 1}
        ticket = api.get(f"/api/tickets/{ticket_id}", "bob").json
        # One completion recorded; the ticket waits at the automated step. (A loser's reconciliation may write
        # the ticket once more before the winner's commit, showing the automated step beside the step whose
        # completion is still on its way: behind the engine, never ahead; so the version is not counted.)
        assert ticket["status"] == "in_progress"
        assert ticket["steps"] == [] and ticket["current_steps"] == ["Provision Service"]
        history = api.get(f"/api/tickets/{ticket_id}/history", "bob").json
        [decision] = [h for h in history if h["action"] == "step_completed"]
        assert decision["details"]["values"] == {"approved": True} and decision["comment"].startswith("approver ")
        with stack.container.db_engine().connect() as c:
            completed = c.execute(text("SELECT count(*) FROM outbox WHERE routing_key = 'task.completed'")).scalar()
        assert completed == 1
    finally:
        stack.close()


def test_an_unreachable_database_gives_503_naming_it_and_readyz_says_so(tmp_path, postgres_proxy):
    from sqlalchemy.engine import make_url

    url = make_url(pg_url()).set(host="127.0.0.1", port=postgres_proxy.port).render_as_string(hide_password=False)
    stack = build_stack("postgres", tmp_path, database_url=url)
    try:
        api = ApiClient(create_app(stack.container))
        assert api.get("/api/tickets", "alice").status_code == 200
        postgres_proxy.cut()
        r = api.get("/api/tickets", "alice")
        assert r.status_code == 503 and r.headers["Retry-After"]
        error = r.json["error"]
        assert error["code"] == "service_unavailable" and error["details"]["dependency"] == "database"
        # What is down, not where it runs or how to start it (that is in the server's log).
        assert error["message"] == "The database is unavailable; try again in a moment."
        assert str(postgres_proxy.port) not in str(error) and "start PostgreSQL" not in str(error)
        assert api.post("/api/tickets", "alice", json={"title": "x"}).status_code == 503
        ready = api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json["error"]["details"]["unavailable"] == ["database"]
        assert "unreachable" in ready.json["checks"]["database"] and ready.json["checks"]["event_broker"] == "ok"
        postgres_proxy.restore()
        assert api.get("/api/tickets", "alice").status_code == 200  # the pool recovers by itself
        assert api.get("/readyz").status_code == 200
    finally:
        stack.close()


def test_only_one_relay_holds_the_lock_at_a_time(tmp_path):
    from tests.support import make_store

    store = make_store("postgres", tmp_path)
    try:
        first, second = store.uow(), store.uow()
        with first, second:
            assert first.outbox.try_lock_relay() is True
            assert second.outbox.try_lock_relay() is False
        with store.uow() as third:
            assert third.outbox.try_lock_relay() is True  # released with the first's transaction
    finally:
        store.close()


def _pflow(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pflow.entrypoints.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=REPO_ROOT, timeout=timeout)


def _empty_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def test_pflow_migrate_upgrades_postgres_and_serve_refuses_an_old_schema(tmp_path):
    require_postgres()
    url = pg_url()
    env = {"DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://"), "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_SECRET_KEY": "x" * 48, "API_HTTP_PORT": "127.0.0.1:1"}
    try:
        _empty_schema(url)
        refused = _pflow("serve", env=env)
        assert refused.returncode != 0
        assert "has no PFlow tables yet: run `pflow migrate`" in refused.stderr
        migrated = _pflow("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert f"migrated from an empty schema to {head_revision()}" in migrated.stdout
        assert "pflow:***@" in migrated.stdout  # the password is not printed
        again = _pflow("migrate", env=env)
        assert "is up to date" in again.stdout
        engine = create_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
    finally:
        reset_postgres(rebuild=True)


def test_pflow_migrate_names_an_unreachable_database(tmp_path):
    from tests.support import free_port

    env = {"DATABASE_URL": f"postgresql://pflow:hunter2@127.0.0.1:{free_port()}/pflow", "PFLOW_DATA_DIR": str(tmp_path)}
    result = _pflow("migrate", env=env)
    assert result.returncode != 0
    assert "the database at 127.0.0.1" in result.stderr and "unreachable" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_connection_lost_after_a_read_leaves_the_read_and_the_next_unit_of_work_works(tmp_path):
    """PostgreSQL restarting between a unit of work's last read and its end: the read stands (nothing was to be
    stored; the server dropped the transaction with the connection), and the next unit of work gets a new one."""
    stack = build_stack("postgres", tmp_path)
    try:
        service = stack.container.tickets()
        ticket = service.create(TEST_USERS.get("alice"), {"title": "Read before the restart"})
        uow_factory = stack.container.uow
        killer = create_engine(pg_url())
        try:
            with uow_factory() as uow:
                read = uow.tickets.get(ticket.id)
                pid = uow.session.execute(text("SELECT pg_backend_pid()")).scalar()
                with killer.connect() as c:
                    assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            assert read.title == "Read before the restart"
            with uow_factory() as uow:
                assert uow.tickets.get(ticket.id).title == "Read before the restart"
        finally:
            killer.dispose()
    finally:
        stack.close()
