"""The migrations build exactly the tables the mappers use; the embedded default migrates itself."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from pflow.adapters.database.migrate import SchemaNotCurrent, current_revision, ensure_current, head_revision, upgrade
from pflow.adapters.spiff.tables import metadata as engine_metadata
from pflow.adapters.sqlalchemy.tables import metadata
from pflow.config import Settings
from pflow.container import build_container, prepare_database, shutdown
from tests.support import make_store


def _diff(engine, target):
    """Differences between the migrated database and one part's tables (the ticket store's or the
    embedded engine's); each part is compared on its own tables only."""

    def ours(name, type_, parent_names):
        if type_ == "index" and name == "ix_tickets_search_trgm":
            return False  # PostgreSQL's trigram index for text search (0014), made only where pg_trgm exists
        table = name if type_ == "table" else parent_names.get("table_name")
        return table is None or table in target.tables

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False, "include_name": ours})
        return compare_metadata(context, target)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_migrations_match_the_mapped_tables(kind, tmp_path):
    store = make_store(kind, tmp_path)  # migrated to head
    try:
        assert _diff(store.engine, metadata) == []
        assert _diff(store.engine, engine_metadata) == []
        assert current_revision(store.engine) == head_revision() == "0015_outbox_traceparent"
    finally:
        store.close()


@pytest.mark.integration
def test_postgresql_text_search_is_served_by_the_trigram_index(tmp_path):
    """``LIKE '%laptop%'`` on the lower-cased search column: a GIN trigram index, not a scan of every ticket."""
    from sqlalchemy import text

    store = make_store("postgres", tmp_path)
    try:
        with store.engine.begin() as connection:
            indexes = connection.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'tickets' AND indexname = 'ix_tickets_search_trgm'"
            )).scalars().all()
            assert indexes and "gin_trgm_ops" in indexes[0]
            connection.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table would be scanned anyway
            plan = "\n".join(connection.execute(text(
                "EXPLAIN SELECT count(*) FROM tickets WHERE search_text LIKE '%laptop%'")).scalars())
        assert "ix_tickets_search_trgm" in plan
    finally:
        store.close()


def test_the_migration_chain_is_linear_and_reversible(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine, "0001_tickets")
    assert set(inspect(engine).get_table_names()) == {"alembic_version", "tickets", "ticket_history", "outbox"}
    with pytest.raises(SchemaNotCurrent, match="run `pflow migrate`"):
        ensure_current(engine)
    upgrade(engine)
    ensure_current(engine)
    from alembic import command

    from pflow.adapters.database.migrate import alembic_config

    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_rows_from_before_0004_upgrade_with_empty_params_and_details(kind, tmp_path):
    """A database in use keeps its notifications and history through the upgrade; they read with {}."""
    from alembic import command
    from sqlalchemy import select, text

    from pflow.adapters.sqlalchemy import tables
    from pflow.adapters.database.migrate import alembic_config
    from tests.support import pg_url, require_postgres, reset_postgres

    if kind == "postgres":
        require_postgres()
        reset_postgres()
        engine = create_engine(pg_url())
        command.downgrade(alembic_config(engine), "0003_engine_state")
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, "0003_engine_state")
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO notifications (id, recipient, ticket_id, kind, message, created_at) "
                "VALUES ('n1', 'alice', 't1', 'ticket.approved', 'Your ticket was approved.', '2026-01-01T10:00:00+00:00')"))
            connection.execute(text(
                "INSERT INTO tickets (id, title, description, priority, requester, status, created_at, updated_at, "
                "version) VALUES ('t1', 'Laptop', '', 'normal', 'alice', 'completed', '2026-01-01T10:00:00+00:00', "
                "'2026-01-01T10:00:00+00:00', 3)"))
            connection.execute(text(
                "INSERT INTO ticket_history (ticket_id, seq, at, actor, action, from_status, to_status, comment) "
                "VALUES ('t1', 0, '2026-01-01T10:00:00+00:00', 'system', 'completed', 'approved', 'completed', "
                "'fulfilment reference PRV-1')"))
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(select(tables.notifications.c.message, tables.notifications.c.params)).one()
            entry = connection.execute(select(tables.ticket_history.c.comment, tables.ticket_history.c.details)).one()
        assert (row.message, row.params) == ("Your ticket was approved.", {})
        assert (entry.comment, entry.details) == ("fulfilment reference PRV-1", {})
    finally:
        engine.dispose()
        if kind == "postgres":
            reset_postgres()


def test_the_embedded_default_migrates_its_sqlite_file_on_start(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'pflow.db'}", rabbitmq_url="memory://",
                        data_dir=tmp_path)
    container = build_container(settings)
    try:
        prepare_database(container)
        assert current_revision(container.db_engine()) == head_revision()
        with container.db_engine().connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        shutdown(container)


def test_the_defaults_keep_state_under_the_data_dir(tmp_path):
    settings = Settings.from_env({"PFLOW_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/pflow.db"
    assert settings.rabbitmq_url == f"sqla+sqlite:///{tmp_path}/events.db"
    explicit = Settings.from_env({"DATABASE_URL": "postgresql://pflow:pflow@localhost:5432/pflow",
                                  "RABBITMQ_URL": "amqp://guest:guest@localhost:5672/"})
    assert explicit.database_url == "postgresql+psycopg2://pflow:pflow@localhost:5432/pflow"
    assert explicit.rabbitmq_url == "amqp://guest:guest@localhost:5672/"
