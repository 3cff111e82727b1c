"""Substitutes: a user names someone to act for them while away, for a period (``substitutes``: one row per
user, found by substitute and end for the inbox).

No data moves. Downgrade drops the table.

Revision ID: 0012_substitutes
Revises: 0011_task_time
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_substitutes"
down_revision = "0011_task_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "substitutes",
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("substitute", sa.String(200), nullable=False),
        sa.Column("starts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_substitutes"),
    )
    op.create_index("ix_substitutes_substitute", "substitutes", ["substitute", "ends"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_substitutes_substitute", table_name="substitutes")
    op.drop_table("substitutes")
