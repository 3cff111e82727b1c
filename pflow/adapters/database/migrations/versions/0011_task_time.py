"""Reminders about due steps are sent once per step and kind (``task_reminders``): the primary key (task_id,
kind) makes a second process's commit of the same reminder fail, so however many processes scan, each
reminder and each overdue notice goes out once.

Steps from before had no reminders: the scanner sends theirs once it runs (their due times were kept all along).
Downgrade drops the table.

Revision ID: 0011_task_time
Revises: 0010_engine_timers
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_task_time"
down_revision = "0010_engine_timers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_reminders",
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_task_reminders_ticket_id_tickets",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "kind", name="pk_task_reminders"),
    )
    op.create_index("ix_task_reminders_ticket", "task_reminders", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_reminders_ticket", table_name="task_reminders")
    op.drop_table("task_reminders")
