"""Text search on PostgreSQL through a trigram index: ``search_text LIKE '%laptop%'`` (the ticket list's and the
inbox's text filter) is served by a GIN index of the ``pg_trgm`` extension instead of a scan of every ticket.

PostgreSQL only; SQLite is unchanged. ``pg_trgm`` ships with PostgreSQL and is a trusted extension (the
database's owner may create it). Where it cannot be created (not installed, or no CREATE privilege on the
database), the migration logs a warning and goes on without the index: searching works as before, only
slower; once an administrator has created the extension, ``CREATE INDEX ix_tickets_search_trgm ON tickets USING
gin (search_text gin_trgm_ops)`` adds the index by hand.

Revision ID: 0014_search_trigram
Revises: 0013_outbound
Create Date: 2026-12-04
"""

import logging

from alembic import op

revision = "0014_search_trigram"
down_revision = "0013_outbound"
branch_labels = None
depends_on = None

INDEX = "ix_tickets_search_trgm"
log = logging.getLogger("pflow.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # not installed, or no privilege: search keeps working without the index
        savepoint.rollback()
        log.warning("PostgreSQL extension pg_trgm unavailable (%s); text search runs without its trigram index. "
                    "Create it (CREATE EXTENSION pg_trgm) and re-run the migration for faster search.",
                    str(exc).splitlines()[0])
        return
    savepoint.commit()
    op.create_index(INDEX, "tickets", ["search_text"], postgresql_using="gin",
                    postgresql_ops={"search_text": "gin_trgm_ops"}, if_not_exists=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="tickets", if_exists=True)  # the extension stays: others may use it
