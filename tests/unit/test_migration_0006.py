"""0006_process_tickets moves the tickets of a database in use into the process-driven shape, and back."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from pflow.adapters.database.migrate import alembic_config, upgrade
from tests.support import pg_url, require_postgres, reset_postgres

BEFORE = "0005_engine_scoping"
AT = "'2026-01-01T10:00:00+00:00'"

# id, status, description, amount, priority, requester, approver, fulfilment_reference
OLD_ROWS = [
    ("t-draft", "draft", "", None, "normal", "alice", None, None),
    ("t-pending", "pending_approval", "for the new hire", "1200.50", "high", "alice", None, None),
    ("t-approved", "approved", "VPN token", "1000.00", "low", "erin", "bob", None),
    ("t-failed", "provisioning_failed", "", "12.30", "normal", "alice", "bob", None),
    ("t-done", "completed", "Monitor", "99.99", "normal", "erin", "bob", "PRV-7"),
    ("t-done-noted", "completed", "", None, "normal", "erin", "carol", "PRV-8"),
    ("t-rejected", "rejected", "too much", "5000.00", "high", "alice", "bob", None),
]
# ticket, seq, action, from, to, comment, details (JSON text)
OLD_HISTORY = [
    ("t-failed", 0, "created", None, "draft", None, "{}"),
    ("t-failed", 1, "provisioning_failed", "approved", "provisioning_failed", None, '{"error": "first error"}'),
    ("t-failed", 2, "provisioning_failed", "approved", "provisioning_failed", "timeout", '{"error": "HTTP 503"}'),
    ("t-done", 0, "created", None, "draft", None, "{}"),
    ("t-done", 1, "completed", "approved", "completed", "fulfilment reference PRV-7", "{}"),
    ("t-done-noted", 0, "completed", "approved", "completed", None, '{"reference": "PRV-8", "by": "worker"}'),
]


def _engine(kind, tmp_path):
    if kind == "postgres":
        require_postgres()
        reset_postgres()  # at head, empty
        engine = create_engine(pg_url())
        command.downgrade(alembic_config(engine), BEFORE)
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, BEFORE)
    return engine


def _insert_old(engine, rows=OLD_ROWS, history=OLD_HISTORY):
    with engine.begin() as c:
        for tid, status, description, amount, priority, requester, approver, reference in rows:
            c.execute(text(
                "INSERT INTO tickets (id, title, description, amount, priority, requester, approver, "
                f"fulfilment_reference, status, created_at, updated_at, version) VALUES (:id, :title, :d, :a, :p, "
                f":r, :ap, :ref, :s, {AT}, {AT}, 2)"),
                dict(id=tid, title=f"Title of {tid}", d=description, a=amount, p=priority, r=requester, ap=approver,
                     ref=reference, s=status))
        for tid, seq, action, from_s, to_s, comment, details in history:
            c.execute(text(
                "INSERT INTO ticket_history (ticket_id, seq, at, actor, action, from_status, to_status, comment, "
                f"details) VALUES (:t, :seq, {AT}, 'system', :a, :f, :to, :c, :d)"),
                dict(t=tid, seq=seq, a=action, f=from_s, to=to_s, c=comment, d=details))


def _cleanup(kind, engine):
    engine.dispose()
    if kind == "postgres":
        reset_postgres(rebuild=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def kind(request):
    return request.param


def test_existing_tickets_of_every_status_become_it_requests(kind, tmp_path):
    from pflow.adapters.sqlalchemy import tables

    engine = _engine(kind, tmp_path)
    try:
        _insert_old(engine)
        upgrade(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
        assert not columns & {"description", "amount", "priority", "approver", "fulfilment_reference"}
        t = tables.tickets
        with engine.connect() as c:
            got = {r.id: r for r in c.execute(t.select())}
            history = {(r.ticket_id, r.seq): r.details for r in c.execute(tables.ticket_history.select())}
            deciders = sorted(tuple(r) for r in c.execute(tables.ticket_deciders.select()))
        assert {i: (r.type, r.status) for i, r in got.items()} == {
            "t-draft": ("it_request", "draft"), "t-pending": ("it_request", "in_progress"),
            "t-approved": ("it_request", "in_progress"), "t-failed": ("it_request", "needs_attention"),
            "t-done": ("it_request", "completed"), "t-done-noted": ("it_request", "completed"),
            "t-rejected": ("it_request", "rejected")}
        assert got["t-draft"].fields == {"priority": "normal"}  # an empty description is an absent field
        assert got["t-pending"].fields == {"description": "for the new hire", "amount": 1200.5, "priority": "high"}
        assert got["t-approved"].fields == {"description": "VPN token", "amount": 1000, "priority": "low"}
        assert isinstance(got["t-approved"].fields["amount"], int)
        assert got["t-done"].fields["amount"] == 99.99
        assert {i: (r.last_editor, r.deciders) for i, r in got.items()} == {
            "t-draft": ("alice", []), "t-pending": ("alice", []), "t-approved": ("erin", ["bob"]),
            "t-failed": ("alice", ["bob"]), "t-done": ("erin", ["bob"]), "t-done-noted": ("erin", ["carol"]),
            "t-rejected": ("alice", ["bob"])}
        assert deciders == [("t-approved", "bob"), ("t-done", "bob"), ("t-done-noted", "carol"),
                            ("t-failed", "bob"), ("t-rejected", "bob")]
        assert got["t-failed"].attention == "HTTP 503"  # the last recorded error
        assert [i for i, r in got.items() if r.attention] == ["t-failed"]
        assert all(r.steps == [] and r.current_steps == [] and r.definition_id is None for r in got.values())
        assert got["t-pending"].search_text == "title of t-pending\nfor the new hire\nhigh"
        assert history[("t-done", 1)] == {"reference": "PRV-7"}
        assert history[("t-done-noted", 0)] == {"reference": "PRV-8", "by": "worker"}  # there already: kept
        assert history[("t-failed", 2)] == {"error": "HTTP 503"}

        # the store reads the moved rows as domain tickets, and finds them by their moved text
        from pflow.adapters.sqlalchemy.orm import start_mappers
        from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork
        from pflow.adapters.sqlalchemy.session import build_session_factory
        from pflow.domain.model import TicketStatus
        from pflow.ports.repository import TicketQuery

        start_mappers()
        with SqlAlchemyUnitOfWork(build_session_factory(engine)) as uow:
            ticket = uow.tickets.get("t-approved")
            assert (ticket.status, ticket.fields["priority"], ticket.version) == (TicketStatus.IN_PROGRESS, "low", 2)
            assert [x.id for x in uow.tickets.list(TicketQuery(text="vpn")).items] == ["t-approved"]
            assert uow.tickets.list(TicketQuery(type="it_request")).total == len(OLD_ROWS)
    finally:
        _cleanup(kind, engine)


def test_downgrade_gives_the_old_columns_back(kind, tmp_path):
    engine = _engine(kind, tmp_path)
    try:
        _insert_old(engine)
        upgrade(engine)
        command.downgrade(alembic_config(engine), BEFORE)
        assert not {"ticket_steps", "ticket_step_candidates", "ticket_deciders"} & set(inspect(engine).get_table_names())
        with engine.connect() as c:
            rows = {r.id: r for r in c.execute(text(
                "SELECT id, status, description, amount, priority, approver, fulfilment_reference FROM tickets"))}
        before = {r[0]: r for r in OLD_ROWS}
        for tid, row in rows.items():
            _, status, description, amount, priority, _, approver, reference = before[tid]
            assert (row.status, row.description, row.priority, row.approver, row.fulfilment_reference) == (
                status, description, priority, approver, reference), tid
            assert (None if row.amount is None else f"{float(row.amount):.2f}") == amount, tid
        assert set(rows) == set(before)
        upgrade(engine)  # and up again
    finally:
        _cleanup(kind, engine)


def test_downgrade_refuses_tickets_the_old_schema_cannot_hold(kind, tmp_path):
    engine = _engine(kind, tmp_path)
    try:
        upgrade(engine)
        with engine.begin() as c:
            c.execute(text(
                "INSERT INTO tickets (id, type, title, fields, requester, status, steps, current_steps, deciders, "
                f"search_text, created_at, updated_at, version) VALUES ('t-buy', 'purchase_request', 'Chair', "
                f"'{{}}', 'alice', 'in_progress', '[]', '[]', '[]', '', {AT}, {AT}, 1)"))
        with pytest.raises(RuntimeError, match=r"1 ticket\(s\) .*purchase_request|t-buy"):
            command.downgrade(alembic_config(engine), BEFORE)
        with engine.connect() as c:  # nothing was changed
            assert c.execute(text("SELECT type FROM tickets")).scalar() == "purchase_request"
            assert "ticket_steps" in inspect(engine).get_table_names()
    finally:
        _cleanup(kind, engine)
