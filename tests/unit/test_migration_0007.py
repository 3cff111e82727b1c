"""0007_ticket_results gives tickets their results: the fulfilment reference of tickets from before is found by
search again, and a downgrade gives the schema back without touching the rows that refer to tickets."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from pflow.adapters.database.migrate import alembic_config, upgrade
from tests.support import pg_url, require_postgres, reset_postgres

BEFORE = "0006_process_tickets"
AT = "'2026-01-01T10:00:00+00:00'"

# id, status, title, fields (JSON text)
ROWS = [
    ("t-done", "completed", "Monitor", '{"description": "27 inch", "priority": "normal"}'),
    ("t-open", "in_progress", "Laptop", '{"priority": "high"}'),
    ("t-twice", "completed", "VPN", '{"priority": "low"}'),
]
# ticket, seq, action, details (JSON text)
HISTORY = [
    ("t-done", 0, "created", "{}"),
    ("t-done", 1, "completed", '{"reference": "PRV-7"}'),
    ("t-open", 0, "created", "{}"),
    ("t-twice", 0, "completed", '{"reference": "PRV-OLD"}'),
    ("t-twice", 1, "resumed", "{}"),
    ("t-twice", 2, "completed", '{"reference": "PRV-NEW"}'),
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
        for tid, status, title, fields in ROWS:
            c.execute(text(
                "INSERT INTO tickets (id, type, title, fields, requester, status, steps, current_steps, deciders, "
                f"search_text, created_at, updated_at, version) VALUES (:id, 'it_request', :title, :fields, 'alice', "
                f":s, '[]', '[]', '[]', lower(:title), {AT}, {AT}, 3)"), dict(id=tid, title=title, fields=fields, s=status))
        for tid, seq, action, details in HISTORY:
            c.execute(text(
                "INSERT INTO ticket_history (ticket_id, seq, at, actor, action, from_status, to_status, details) "
                f"VALUES (:t, :seq, {AT}, 'system', :a, 'in_progress', 'completed', :d)"),
                dict(t=tid, seq=seq, a=action, d=details))
        c.execute(text(
            "INSERT INTO ticket_steps (task_id, ticket_id, definition_key, name, is_decision, four_eyes, requester, "
            "ticket_type, ticket_status) VALUES ('task-1', 't-open', 'Approve', 'Approve', :yes, :yes, 'alice', "
            "'it_request', 'in_progress')"), dict(yes=True))
        c.execute(text("INSERT INTO ticket_deciders (ticket_id, username) VALUES ('t-done', 'bob')"))
    yield engine
    engine.dispose()
    if request.param == "postgres":
        reset_postgres(rebuild=True)


def test_the_reference_of_a_ticket_from_before_becomes_its_result_and_is_searchable(engine):
    from pflow.adapters.sqlalchemy.orm import start_mappers
    from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork
    from pflow.adapters.sqlalchemy.session import build_session_factory
    from pflow.ports.repository import TicketQuery

    upgrade(engine, "0007_ticket_results")
    with engine.connect() as c:
        got = {r.id: r for r in c.execute(text("SELECT id, results, search_text FROM tickets"))}
    def results(tid):
        value = got[tid].results
        return json.loads(value) if isinstance(value, str) else value

    assert results("t-done") == {"fulfilment_reference": "PRV-7"}
    assert results("t-twice") == {"fulfilment_reference": "PRV-NEW"}  # the last completion's
    assert results("t-open") == {}
    assert got["t-done"].search_text == "monitor\n27 inch\nnormal\nprv-7"
    assert got["t-open"].search_text == "laptop\nhigh"

    upgrade(engine)  # and whatever follows
    start_mappers()
    with SqlAlchemyUnitOfWork(build_session_factory(engine)) as uow:
        assert uow.tickets.get("t-done").fulfilment_reference == "PRV-7"
        assert [t.id for t in uow.tickets.list(TicketQuery(text="rv-7")).items] == ["t-done"]
        assert [t.id for t in uow.tickets.list(TicketQuery(text="PRV-new")).items] == ["t-twice"]


def test_downgrade_drops_the_results_and_keeps_the_rows_that_refer_to_tickets(engine):
    upgrade(engine, "0007_ticket_results")
    command.downgrade(alembic_config(engine), BEFORE)
    assert "results" not in {c["name"] for c in inspect(engine).get_columns("tickets")}
    with engine.connect() as c:
        texts = dict(c.execute(text("SELECT id, search_text FROM tickets")).all())
        steps = c.execute(text("SELECT task_id, ticket_id FROM ticket_steps")).all()
        deciders = c.execute(text("SELECT ticket_id, username FROM ticket_deciders")).all()
        entries = c.execute(text("SELECT count(*) FROM ticket_history")).scalar()
    assert texts["t-done"] == "monitor\n27 inch\nnormal"  # the rule of 0006 again
    assert [tuple(r) for r in steps] == [("task-1", "t-open")]
    assert [tuple(r) for r in deciders] == [("t-done", "bob")]
    assert entries == len(HISTORY)
    upgrade(engine)  # and up again
    assert "results" in {c["name"] for c in inspect(engine).get_columns("tickets")}
