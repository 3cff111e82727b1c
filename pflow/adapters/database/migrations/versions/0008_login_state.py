"""Login state shared by every API process: failed-login counters with lockouts (login_attempts) and each
user's token generation (token_generations), which logout and an admin's revoke bump to revoke old tokens.

Revision ID: 0008_login_state
Revises: 0007_ticket_results
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_login_state"
down_revision = "0007_ticket_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_attempts"),
    )
    op.create_table(
        "token_generations",
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_token_generations"),
    )


def downgrade() -> None:
    op.drop_table("token_generations")
    op.drop_table("login_attempts")
