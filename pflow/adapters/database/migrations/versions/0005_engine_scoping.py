"""The embedded engine runs several processes side by side: every open user and external task names
the process and definition it belongs to; user tasks keep their candidate users and due date as
resolved when they were created; a deployment of a file with several processes has one id; deploy
finds a process's earlier version by content through an index.

Rows from before get their process and definition from their instance, and the deployment id of a
definition is its own id.

Revision ID: 0005_engine_scoping
Revises: 0004_details
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_engine_scoping"
down_revision = "0004_details"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, not batch mode: on SQLite a batch copies and drops the table, which its
# foreign keys (instances -> definitions, tasks -> instances) refuse while rows refer to it.


def upgrade() -> None:
    op.add_column("wf_definitions", sa.Column("deployment_id", sa.String(36), nullable=True))
    op.execute("UPDATE wf_definitions SET deployment_id = substr(id, 1, 36) WHERE deployment_id IS NULL")
    op.create_index("ix_wf_definitions_key_digest", "wf_definitions", ["process_key", "digest"], unique=False)
    for table in ("wf_user_tasks", "wf_external_tasks"):
        op.add_column(table, sa.Column("process_key", sa.String(200), nullable=False, server_default=""))
        op.add_column(table, sa.Column("definition_id", sa.String(200), nullable=False, server_default=""))
        op.execute(f"UPDATE {table} SET "
                   f"process_key = (SELECT i.process_key FROM wf_instances i WHERE i.id = {table}.instance_id), "
                   f"definition_id = (SELECT i.definition_id FROM wf_instances i WHERE i.id = {table}.instance_id)")
    op.add_column("wf_user_tasks", sa.Column("candidate_users", sa.String(1000), nullable=False, server_default=""))
    op.add_column("wf_user_tasks", sa.Column("due_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("wf_user_tasks", "due_ms")
    op.drop_column("wf_user_tasks", "candidate_users")
    for table in ("wf_external_tasks", "wf_user_tasks"):
        op.drop_column(table, "definition_id")
        op.drop_column(table, "process_key")
    op.drop_index("ix_wf_definitions_key_digest", table_name="wf_definitions")
    op.drop_column("wf_definitions", "deployment_id")
