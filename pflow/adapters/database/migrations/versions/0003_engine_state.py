"""The embedded workflow engine's state: definitions, instances, open user and external tasks.

Revision ID: 0003_engine_state
Revises: 0002_notifications
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_engine_state"
down_revision = "0002_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wf_definitions',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=False),
    sa.Column('xml', sa.Text(), nullable=False),
    sa.Column('deployed_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_key', 'version', name='uq_wf_definitions_key_version')
    )
    op.create_table('wf_instances',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=False),
    sa.Column('running_key', sa.String(length=200), nullable=True),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('definition_id', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('active_activity_ids', sa.JSON(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('serialized', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('started_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('ended_ms', sa.BigInteger(), nullable=True),
    sa.Column('end_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['definition_id'], ['wf_definitions.id'], name='fk_wf_instances_definition'),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id', name='uq_wf_instances_id')
    )
    op.create_index('ix_wf_instances_business_key', 'wf_instances', ['business_key', 'seq'], unique=False)
    op.create_index('uq_wf_instances_running_key', 'wf_instances', ['running_key'], unique=True)
    op.create_table('wf_external_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=False),
    sa.Column('activity_id', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('worker_id', sa.String(length=200), nullable=True),
    sa.Column('lock_expires_ms', sa.BigInteger(), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=True),
    sa.Column('available_ms', sa.BigInteger(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_details', sa.Text(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['wf_instances.id'], name='fk_wf_external_tasks_instance', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_wf_external_tasks_business_key', 'wf_external_tasks', ['business_key'], unique=False)
    op.create_index('ix_wf_external_tasks_instance', 'wf_external_tasks', ['instance_id'], unique=False)
    op.create_index('ix_wf_external_tasks_topic', 'wf_external_tasks', ['topic', 'available_ms'], unique=False)
    op.create_table('wf_user_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=False),
    sa.Column('activity_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('candidate_groups', sa.String(length=1000), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['wf_instances.id'], name='fk_wf_user_tasks_instance', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_wf_user_tasks_business_key', 'wf_user_tasks', ['business_key', 'activity_id'], unique=False)
    op.create_index('ix_wf_user_tasks_instance', 'wf_user_tasks', ['instance_id'], unique=False)
    op.create_table('wf_user_task_groups',
    sa.Column('group_name', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['wf_user_tasks.id'], name='fk_wf_user_task_groups_task', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_name', 'task_id')
    )
    op.create_index('ix_wf_user_task_groups_task', 'wf_user_task_groups', ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_wf_user_task_groups_task', table_name='wf_user_task_groups')
    op.drop_table('wf_user_task_groups')
    op.drop_index('ix_wf_user_tasks_instance', table_name='wf_user_tasks')
    op.drop_index('ix_wf_user_tasks_business_key', table_name='wf_user_tasks')
    op.drop_table('wf_user_tasks')
    op.drop_index('ix_wf_external_tasks_topic', table_name='wf_external_tasks')
    op.drop_index('ix_wf_external_tasks_instance', table_name='wf_external_tasks')
    op.drop_index('ix_wf_external_tasks_business_key', table_name='wf_external_tasks')
    op.drop_table('wf_external_tasks')
    op.drop_index('uq_wf_instances_running_key', table_name='wf_instances')
    op.drop_index('ix_wf_instances_business_key', table_name='wf_instances')
    op.drop_table('wf_instances')
    op.drop_table('wf_definitions')
