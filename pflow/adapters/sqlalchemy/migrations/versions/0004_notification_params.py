"""Notifications keep the values their message was made from, so clients can word it in the
reader's language. Rows from before have none ('{}') and are shown with their English message.

Revision ID: 0004_notification_params
Revises: 0003_engine_state
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_notification_params"
down_revision = "0003_engine_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("params")
