"""Placeholder for the embedded engine's scoping revision, written in parallel; the real 0005 replaces this
file when the branches are integrated. It changes nothing.

Revision ID: 0005_engine_scoping
Revises: 0004_details
Create Date: 2026-12-01
"""

revision = "0005_engine_scoping"
down_revision = "0004_details"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
