"""Notifications and history entries keep the facts their text is made from, so clients can word
them in the reader's language: notifications.params and ticket_history.details. Rows from before
have none ('{}') and are shown with their English text.

Revision ID: 0004_details
Revises: 0003_engine_state
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_details"
down_revision = "0003_engine_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("ticket_history") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("ticket_history") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("params")
