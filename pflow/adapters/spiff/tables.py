"""The embedded engine's tables (SQLAlchemy Core, its own ``MetaData``).

They live in the same database as the tickets. Production creates them with
the Alembic migration; ``create_schema`` is for tests and local experiments.

* ``wf_definitions``: deployed BPMN files, one row per (process key, version);
  one file with several processes is one deployment (``deployment_id``).
  Deploying is by content: a (process key, digest) already stored is that
  version again. Instances refer to the definition they started on, so a
  redeploy never changes a running instance.
* ``wf_instances``: one row per process instance: the serialized SpiffWorkflow
  state (without the spec, which comes from its definition), the process
  variables, the activity history and the state for the UI. ``running_key``
  holds the business key while the instance runs and is NULL afterwards; its
  unique index makes "one running instance per business key" hold across
  processes.
* ``wf_user_tasks`` + ``wf_user_task_groups``: the open user tasks, with the
  process and definition they belong to and their candidates, assignee and
  due date as resolved when the task was created (Camunda resolves them then
  too), so finding them by instance or candidate group is an indexed query.
* ``wf_external_tasks``: the open external tasks with Camunda's lock, retry and
  incident fields; fetch-and-lock reads them by topic through an index.
* ``wf_timers``: the waiting timer events of running instances with the time
  each fires next; any process that fires timers finds the due ones through
  an index and takes them with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL).

Times are epoch milliseconds (BIGINT): exact, comparable in SQL on SQLite and
PostgreSQL alike, and free of time-zone conversions.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# An auto-incrementing BIGINT that SQLite also accepts as its rowid alias.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

definitions = Table(
    "wf_definitions",
    metadata,
    Column("id", String(200), primary_key=True),  # "<process key>:<version>:<digest prefix>"
    Column("process_key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the XML
    Column("source_name", String(500), nullable=False),
    Column("xml", Text, nullable=False),
    Column("deployed_ms", BigInteger, nullable=False),
    Column("deployment_id", String(36), nullable=True),  # shared by the processes of one file (0005)
    # processes its call activities call that the file does not hold: key -> definition id, fixed at deploy
    Column("called", JSON, nullable=True),
    UniqueConstraint("process_key", "version", name="uq_wf_definitions_key_version"),
    Index("ix_wf_definitions_key_digest", "process_key", "digest"),
)

instances = Table(
    "wf_instances",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),  # start order
    Column("id", String(36), nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("running_key", String(200), nullable=True),  # = business_key while active/incident, else NULL
    Column("process_key", String(200), nullable=False),
    Column("definition_id", String(200), ForeignKey("wf_definitions.id", name="fk_wf_instances_definition"),
           nullable=False),
    Column("state", String(20), nullable=False),  # pflow.ports.process.InstanceState
    Column("variables", JSON, nullable=False),
    Column("active_activity_ids", JSON, nullable=False),
    # [[activity id, ended ms, actor or null, task id], ...] in order (rows before 0005 lack the task id)
    Column("history", JSON, nullable=False),
    Column("serialized", Text, nullable=False),  # SpiffWorkflow JSON without the spec
    Column("revision", Integer, nullable=False),  # +1 on every change of ``serialized``
    Column("started_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
    Column("end_reason", String(500), nullable=True),
    UniqueConstraint("id", name="uq_wf_instances_id"),
    Index("ix_wf_instances_business_key", "business_key", "seq"),
    Index("uq_wf_instances_running_key", "running_key", unique=True),
)

user_tasks = Table(
    "wf_user_tasks",
    metadata,
    Column("id", String(36), primary_key=True),  # the SpiffWorkflow task id
    Column("instance_id", String(36), ForeignKey("wf_instances.id", ondelete="CASCADE",
                                                 name="fk_wf_user_tasks_instance"), nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("activity_id", String(200), nullable=False),  # task definition key
    Column("name", String(500), nullable=False),
    Column("candidate_groups", String(1000), nullable=False),  # comma-separated, resolved at creation
    Column("assignee", String(200), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    # 0005: which process the task belongs to, and its other resolved attributes
    Column("process_key", String(200), nullable=False, server_default=""),
    Column("definition_id", String(200), nullable=False, server_default=""),
    Column("candidate_users", String(1000), nullable=False, server_default=""),  # comma-separated
    Column("due_ms", BigInteger, nullable=True),
    Index("ix_wf_user_tasks_business_key", "business_key", "activity_id"),
    Index("ix_wf_user_tasks_instance", "instance_id"),
)

user_task_groups = Table(
    "wf_user_task_groups",
    metadata,
    Column("group_name", String(200), primary_key=True),
    Column("task_id", String(36), ForeignKey("wf_user_tasks.id", ondelete="CASCADE",
                                             name="fk_wf_user_task_groups_task"), primary_key=True),
    Index("ix_wf_user_task_groups_task", "task_id"),
)

external_tasks = Table(
    "wf_external_tasks",
    metadata,
    Column("id", String(36), primary_key=True),  # the SpiffWorkflow task id
    Column("instance_id", String(36), ForeignKey("wf_instances.id", ondelete="CASCADE",
                                                 name="fk_wf_external_tasks_instance"), nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("activity_id", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("worker_id", String(200), nullable=True),
    Column("lock_expires_ms", BigInteger, nullable=True),  # locked while > now
    Column("retries", Integer, nullable=True),  # None until the first failure (Camunda's convention)
    Column("available_ms", BigInteger, nullable=False),  # not fetchable before (retry timeout)
    Column("error_message", Text, nullable=True),
    Column("error_details", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("process_key", String(200), nullable=False, server_default=""),  # 0005
    Column("definition_id", String(200), nullable=False, server_default=""),  # 0005
    Index("ix_wf_external_tasks_topic", "topic", "available_ms"),
    Index("ix_wf_external_tasks_business_key", "business_key"),
    Index("ix_wf_external_tasks_instance", "instance_id"),
)

timers = Table(
    "wf_timers",
    metadata,
    Column("task_id", String(36), primary_key=True),  # the SpiffWorkflow task of the timer event
    Column("instance_id", String(36), ForeignKey("wf_instances.id", ondelete="CASCADE",
                                                 name="fk_wf_timers_instance"), nullable=False),
    Column("business_key", String(200), nullable=False),
    Column("activity_id", String(200), nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Index("ix_wf_timers_due", "due_ms"),
    Index("ix_wf_timers_instance", "instance_id"),
)

ALL_TABLES = (definitions, instances, user_tasks, user_task_groups, external_tasks, timers)


def create_schema(engine: Engine) -> None:
    """Create the engine's tables if missing (tests and local experiments; production uses Alembic)."""
    metadata.create_all(engine)


def drop_schema(engine: Engine) -> None:
    metadata.drop_all(engine)
