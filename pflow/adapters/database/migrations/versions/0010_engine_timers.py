"""The embedded engine keeps its waiting timers in ``wf_timers`` (due time per timer event, for the processes
that fire them), and a definition remembers which deployed versions its call activities call (``called``).

Instances from before wait on no timer (timers were refused at deploy) and call nothing, so no data moves.
Downgrade drops both.

Revision ID: 0010_engine_timers
Revises: 0009_ticket_editors
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_engine_timers"
down_revision = "0009_ticket_editors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wf_timers",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("business_key", sa.String(200), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["wf_instances.id"], name="fk_wf_timers_instance",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_wf_timers_due", "wf_timers", ["due_ms"], unique=False)
    op.create_index("ix_wf_timers_instance", "wf_timers", ["instance_id"], unique=False)
    # Plain ADD COLUMN, not batch mode: a batch on SQLite would copy the table the instances refer to.
    op.add_column("wf_definitions", sa.Column("called", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("wf_definitions", "called")
    op.drop_index("ix_wf_timers_instance", table_name="wf_timers")
    op.drop_index("ix_wf_timers_due", table_name="wf_timers")
    op.drop_table("wf_timers")
