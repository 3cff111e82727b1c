"""A ticket keeps everyone besides its requester who edited it (``editors``), not only its last editor, so
separation of duties refuses each of them its decision steps; ``ticket_editors`` holds them as rows for the inbox.

Tickets from before: their ``last_editor``, when it is not the requester, becomes their one editor (who else
edited them earlier was not recorded).

Downgrade drops the table and the column (``last_editor`` stays as it was kept all along).

Revision ID: 0009_ticket_editors
Revises: 0008_login_state
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_ticket_editors"
down_revision = "0008_login_state"
branch_labels = None
depends_on = None

# Plain ADD/DROP COLUMN, not batch mode (see 0007_ticket_results): a batch on SQLite would copy and drop the
# tickets table, cascading to the rows that refer to it.

tickets = sa.table(
    "tickets",
    sa.column("id", sa.String), sa.column("requester", sa.String), sa.column("last_editor", sa.String),
    sa.column("editors", sa.JSON),
)


def upgrade() -> None:
    op.add_column("tickets", sa.Column("editors", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    editors = op.create_table(
        "ticket_editors",
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(150), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_editors_ticket_id_tickets",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "username", name="pk_ticket_editors"),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(tickets.c.id, tickets.c.requester, tickets.c.last_editor)
                        .where(tickets.c.last_editor.is_not(None), tickets.c.last_editor != tickets.c.requester)).all()
    for row in rows:
        bind.execute(tickets.update().where(tickets.c.id == row.id).values(editors=[row.last_editor]))
    if rows:
        bind.execute(editors.insert(), [{"ticket_id": row.id, "username": row.last_editor} for row in rows])


def downgrade() -> None:
    op.drop_table("ticket_editors")
    op.drop_column("tickets", "editors")
