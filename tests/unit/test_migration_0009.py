"""0009_ticket_editors: tickets from before get their last editor (when not the requester) as their one editor, in
the ticket row and as an inbox row, so separation of duties keeps refusing that person; a downgrade gives the schema
back."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from pflow.adapters.database.migrate import alembic_config, upgrade
from tests.support import pg_url, require_postgres, reset_postgres

BEFORE = "0008_login_state"
AT = "'2026-01-01T10:00:00+00:00'"

# id, requester, last_editor
ROWS = [
    ("t-admin-edited", "alice", "carol"),
    ("t-own", "alice", "alice"),
    ("t-none", "erin", None),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def engine(request, tmp_path):
    if request.param == "postgres":
        require_postgres()
        reset_postgres()
        engine = create_engine(pg_url())
        command.downgrade(alembic_config(engine), BEFORE)
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, BEFORE)
    with engine.begin() as c:
        for tid, requester, last_editor in ROWS:
            c.execute(text(
                "INSERT INTO tickets (id, type, title, fields, requester, status, steps, current_steps, last_editor, "
                f"deciders, search_text, created_at, updated_at, version) VALUES (:id, 'it_request', 'Laptop', '{{}}', "
                f":r, 'in_progress', '[]', '[]', :e, '[]', 'laptop', {AT}, {AT}, 3)"),
                dict(id=tid, r=requester, e=last_editor))
    yield engine
    engine.dispose()
    if request.param == "postgres":
        reset_postgres(rebuild=True)


def _editors(value):
    return json.loads(value) if isinstance(value, str) else value


def test_the_last_editor_of_a_ticket_from_before_becomes_its_editor(engine):
    upgrade(engine, "0009_ticket_editors")
    with engine.connect() as c:
        got = {r.id: _editors(r.editors) for r in c.execute(text("SELECT id, editors FROM tickets"))}
        rows = sorted(tuple(r) for r in c.execute(text("SELECT ticket_id, username FROM ticket_editors")))
    assert got == {"t-admin-edited": ["carol"], "t-own": [], "t-none": []}
    assert rows == [("t-admin-edited", "carol")]

    from pflow.adapters.sqlalchemy.orm import start_mappers
    from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork
    from pflow.adapters.sqlalchemy.session import build_session_factory

    upgrade(engine)  # and whatever follows
    start_mappers()
    with SqlAlchemyUnitOfWork(build_session_factory(engine)) as uow:
        assert uow.tickets.get("t-admin-edited").editors == ["carol"]
        assert uow.tickets.get("t-own").editors == []


def test_deleting_a_ticket_deletes_its_editor_rows_and_downgrade_drops_them(engine):
    upgrade(engine, "0009_ticket_editors")
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text("PRAGMA foreign_keys=ON"))
        c.execute(text("DELETE FROM tickets WHERE id = 't-admin-edited'"))
        assert c.execute(text("SELECT count(*) FROM ticket_editors")).scalar() == 0
    command.downgrade(alembic_config(engine), BEFORE)
    assert "editors" not in {c["name"] for c in inspect(engine).get_columns("tickets")}
    assert "ticket_editors" not in inspect(engine).get_table_names()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM tickets")).scalar() == 2
    upgrade(engine)
    assert "editors" in {c["name"] for c in inspect(engine).get_columns("tickets")}
