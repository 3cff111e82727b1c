"""The outbox keeps the trace context of the transaction that wrote each event (``traceparent``, W3C), so
the relay's publish span and the consumer's span join the trace of the request that caused the event
(docs/tracing.md). Nullable: events written untraced, and every row from before, have none.

Revision ID: 0015_outbox_traceparent
Revises: 0014_search_trigram
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_outbox_traceparent"
down_revision = "0014_search_trigram"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("traceparent")
