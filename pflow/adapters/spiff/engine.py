"""The embedded workflow engine: SpiffWorkflow 3 with its state in the PFlow database.

How it keeps the port's promises
--------------------------------
* Every change to an instance is one database transaction: the instance row
  is locked (PostgreSQL ``SELECT … FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``
  behind the file's writer lock, shared with the ticket store and taken after
  the connection), the SpiffWorkflow state is restored from
  JSON, moved on (user task run, external task completed, engine steps to the
  next wait), and written back together with the side tables of open user and
  external tasks. A lost race is seen after the lock: exactly one of two
  completions of a user task wins; the other gets ``TaskNotFound``.
* External tasks live in ``wf_external_tasks`` with Camunda's fields.
  Fetch-and-lock locks rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  several worker processes never get the same task; on SQLite the write lock
  serializes fetchers. Completion, failure and lock extension check the lock
  holder and the expiry.
* Long polling: waiting fetches sleep on a condition variable that this
  process wakes when a task becomes fetchable, and also wake at the next lock
  expiry or retry time. Other processes' changes arrive through PostgreSQL
  ``LISTEN/NOTIFY`` (a listener thread, started by the first waiting fetch),
  or on SQLite through a short re-check interval (SQLite has no notification
  channel between processes).
* Any number of processes and versions share the tables. Deploy stores each
  executable process of a file in ``wf_definitions`` by content: a process
  whose (key, digest) is stored already is that version again (also when a
  newer one exists, so an old file never becomes the latest), any other
  content is the next version. Instances keep the definition they started on,
  so a restarted process resumes them exactly. Every query is scoped by a
  business key's instance, a task id or a definition id; topics are global,
  as in Camunda (a worker of a topic serves every process that names it).
* Candidate groups and users, assignee and due date of a user task are
  resolved when the task is created, as Camunda does: literal values as
  written, ``${...}`` over the process variables with the evaluator the
  gateways use (``expressions``); forms and properties come from the shared
  BPMN reader (``pflow.adapters.bpmn.reader``).

Database errors that mean "cannot reach the database" become
``EngineUnavailable`` naming the embedded engine.

This module is the ports; the rest lives beside it: ``transactions`` (read and write transactions,
error translation), ``state`` (definitions and instance state), ``waiting`` (long polling),
``statements`` (the hot path's SQL), ``values`` (variables, durations, due dates), ``bpmn``
(parsing and deploy checks), ``expressions`` (the JUEL subset), ``tables``.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import Engine, and_, delete, func, insert, or_, select as sql_select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState

from pflow.adapters.bpmn.reader import BpmnReadError, read_processes, split_names
from pflow.adapters.database.engine import SqliteWriterLock, sqlite_writer_lock
from pflow.adapters.spiff import tables as t
from pflow.adapters.spiff.assignment import TaskAssignment
from pflow.adapters.spiff.due import TaskDueDates
from pflow.adapters.spiff.bpmn import called_elements, load_definition, parse_xml
from pflow.adapters.spiff.bpmn_errors import catch, catching_boundary, end_execution
from pflow.adapters.spiff.state import RUNNING, InstanceStates, Row, completed_of, end_of
from pflow.adapters.spiff.statements import Sql
from pflow.adapters.spiff.transactions import Transactions
from pflow.adapters.spiff.values import check_json, datetime_of, ms_of
from pflow.adapters.spiff.waiting import Waiters
from pflow.domain.errors import NotFound, ValidationError
from pflow.ports.process import (
    CompletedTask,
    Deployment,
    DeploymentRejected,
    ExternalTask,
    ExternalTasks,
    InstanceProgress,
    InstanceState,
    InstanceView,
    ProcessEngine,
    ProcessInstance,
    ProcessModel,
    TaskLockedByOtherWorker,
    TaskNotFound,
    TimerJobs,
    UserTask,
)


log = logging.getLogger(__name__)


class SpiffWorkflowEngine(TaskAssignment, TaskDueDates, ProcessEngine, ExternalTasks, TimerJobs):
    """The process ports on SpiffWorkflow, persisted with SQLAlchemy (SQLite or PostgreSQL).

    Any number of processes and versions live side by side: every query is scoped by the business
    key's instance, a task id or a definition id, never by a process name."""

    name = "embedded engine"

    def __init__(self, db: Engine, *, clock: Callable[[], float] = time.time,
                 poll_interval_s: float = 0.25, listen: bool = True, notified_recheck_s: float = 5.0,
                 hold_s: float = 5.0, write_lock: SqliteWriterLock | None = None) -> None:
        self._db = db
        self._clock = clock
        self._sqlite = db.dialect.name == "sqlite"
        self._postgres = db.dialect.name == "postgresql"
        self._waiters = Waiters(db, listen=listen and self._postgres and db.dialect.driver == "psycopg2",
                                poll_interval_s=poll_interval_s, notified_recheck_s=notified_recheck_s,
                                hold_s=hold_s)
        # SQLite: the same per-file lock as the ticket store's writers, so they queue instead of polling
        # (None elsewhere: PostgreSQL locks the rows).
        self._tx = Transactions(db, self.name, self._waiters, write_lock or sqlite_writer_lock(db))
        self._states = InstanceStates(clock)

    @property
    def _write_lock(self) -> SqliteWriterLock | None:
        return self._tx.write_lock

    @property
    def _closed(self) -> bool:
        return self._waiters.closed

    def _write(self, *, automated: bool = False):
        return self._tx.write(automated=automated)

    def _read(self, *, snapshot: bool = True):
        return self._tx.read(snapshot=snapshot)

    def _now_ms(self) -> int:
        return ms_of(self._clock())

    def _lock_instance(self, conn: Connection, instance_id: str) -> dict[str, Any] | None:
        row = conn.execute(Sql.lock_instance, {"instance_id": instance_id}).first()
        return None if row is None else dict(row._mapping)

    # =================================================================== port

    def deploy(self, bpmn_path: Path | str) -> list[Deployment]:
        path = Path(bpmn_path)
        try:
            xml = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DeploymentRejected(f"{path}: the BPMN file does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DeploymentRejected(f"{path}: the BPMN file cannot be read ({exc})") from None
        return self.deploy_xml(xml, path.name)

    def deploy_xml(self, xml: str, source: str) -> list[Deployment]:
        """``deploy`` of a file's content; ``source`` names it in messages and in the stored definition."""
        try:
            processes = read_processes(xml, source)
        except BpmnReadError as exc:
            raise DeploymentRejected(str(exc)) from None
        if not processes:
            raise DeploymentRejected(f"{source}: the file has no executable process (isExecutable=\"true\")")
        root = parse_xml(xml, source)
        calls = {key: [c for c in called_elements(root, key) if c[0] not in processes] for key in processes}
        for key in processes:
            if not calls[key]:
                load_definition(xml, source, key)  # refuse before touching the database
        digest = hashlib.sha256(xml.encode("utf-8")).hexdigest()
        for attempt in range(3):
            try:
                with self._write() as tx:
                    deployment_id = str(uuid.uuid4())
                    done: list[Deployment] = []
                    for key in sorted(processes):  # one order for every deploy: no deadlock between files
                        self._lock_process_key(tx.conn, key)
                    for key in processes:
                        # By content: this file's content for this process is that version again, even when
                        # newer versions exist (it never becomes the latest by being deployed again).
                        row = tx.conn.execute(Sql.definition_by_digest, {"process_key": key, "digest": digest}).first()
                        created = row is None
                        if created:
                            called = self._resolve_called(tx.conn, source, calls[key])
                            if calls[key]:
                                load_definition(xml, source, key, {k: tx.conn.execute(Sql.definition, {"definition_id": d}).one().xml
                                                                   for k, d in called.items()})
                            latest = self._states.latest_definition_row(tx.conn, key)
                            version = (latest.version if latest is not None else 0) + 1
                            definition_id = f"{key}:{version}:{digest[:12]}"
                            tx.conn.execute(insert(t.definitions).values(
                                id=definition_id, process_key=key, version=version, digest=digest,
                                source_name=source, xml=xml, deployed_ms=self._now_ms(),
                                deployment_id=deployment_id, called=called or None))
                            row = tx.conn.execute(Sql.definition, {"definition_id": definition_id}).one()
                        done.append(Deployment(deployment_id=row.deployment_id or row.id, process_key=key,
                                               definition_id=row.id, version=row.version, created=created))
                    return done
            except IntegrityError:
                if attempt == 2:
                    raise  # pragma: no cover - three concurrent deploys of different content
        raise AssertionError("unreachable")  # pragma: no cover

    def _resolve_called(self, conn: Connection, source: str, calls) -> dict[str, str]:
        """The deployed definition each call activity of a new version calls, fixed now: ``version`` binding
        that version, ``latest``/``deployment`` the latest one deployed (see docs/embedded-engine.md)."""
        resolved: dict[str, str] = {}
        for key, binding, version in calls:
            if binding == "version":
                row = conn.execute(sql_select(t.definitions.c.id).where(and_(
                    t.definitions.c.process_key == key, t.definitions.c.version == int(version or 0)))).first()
                missing = f"version {version} of the called process {key!r} is not deployed"
            else:
                row = self._states.latest_definition_row(conn, key)
                missing = f"the called process {key!r} is not deployed; deploy it first or in the same file"
            if row is None:
                raise DeploymentRejected(f"{source}: {missing}")
            resolved[key] = row.id
        return resolved

    def _lock_process_key(self, conn: Connection, process_key: str) -> None:
        """Deploys of one process take turns until their transaction ends. PostgreSQL: an advisory lock,
        since two deploys that both find no row of their content would otherwise both add a version
        (the unique (key, version) only catches two of the same number). SQLite: the writer lock does it."""
        if self._postgres:
            lock_id = int.from_bytes(hashlib.sha256(f"wf-deploy:{process_key}".encode()).digest()[:8], "big",
                                     signed=True)
            conn.execute(sql_select(func.pg_advisory_xact_lock(lock_id)))

    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        variables = check_json(variables or {})
        for attempt in range(2):
            try:
                with self._write() as tx:
                    conn = tx.conn
                    existing = conn.execute(Sql.running_instance, {"business_key": business_key}).first()
                    if existing is not None:
                        return ProcessInstance(existing.id, business_key, existing.process_key,
                                               existing.definition_id, created=False)
                    latest = self._states.latest_definition_row(conn, process_key)
                    if latest is None:
                        raise NotFound(f"no process {process_key!r} is deployed on the {self.name}")
                    definition = self._states.definition(conn, latest.id)
                    workflow = BpmnWorkflow(definition.parsed.spec, definition.parsed.subprocess_specs,
                                            script_engine=self._states.conditions)
                    workflow.task_tree.data.update(variables)
                    workflow.pflow_variables = variables
                    self._states.run_steps(workflow)
                    inst = dict(id=str(uuid.uuid4()), business_key=business_key, process_key=process_key,
                                definition_id=definition.id, state=InstanceState.ACTIVE, variables=variables,
                                history=[], revision=0)
                    self._states.save(tx, inst, workflow, set(), None, new=True)
                    return ProcessInstance(inst["id"], business_key, process_key, definition.id, created=True)
            except IntegrityError:
                # Another process started the same key between our check and insert: return that one.
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def cancel(self, business_key: str, reason: str) -> bool:
        with self._write() as tx:
            conn = tx.conn
            row = conn.execute(Sql.running_instance, {"business_key": business_key}).first()
            if row is None:
                return False
            inst = self._lock_instance(conn, row.id)
            if inst is None or inst["state"] not in RUNNING:
                return False
            open_user = sql_select(t.user_tasks.c.id).where(t.user_tasks.c.instance_id == inst["id"])
            conn.execute(delete(t.user_task_groups).where(t.user_task_groups.c.task_id.in_(open_user)))
            conn.execute(delete(t.user_tasks).where(t.user_tasks.c.instance_id == inst["id"]))
            conn.execute(delete(t.external_tasks).where(t.external_tasks.c.instance_id == inst["id"]))
            conn.execute(Sql.delete_timers_of_instance, {"instance_id": inst["id"]})
            now = self._now_ms()
            conn.execute(update(t.instances).where(t.instances.c.id == inst["id"]).values(
                state=InstanceState.TERMINATED, running_key=None, active_activity_ids=[], ended_ms=now,
                updated_ms=now, end_reason=(reason or "")[:500], revision=inst["revision"] + 1))
            return True

    def open_tasks(self, business_key: str) -> list[UserTask]:
        with self._read() as conn:
            rows = conn.execute(Sql.open_user_tasks, {"business_key": business_key}).all()
            return [self._user_view(conn, r) for r in rows]

    def task(self, task_id: str) -> UserTask:
        with self._read() as conn:
            row = conn.execute(Sql.user_task, {"task_id": task_id}).first()
            if row is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            return self._user_view(conn, row)

    def find_user_tasks(self, *, candidate_group: str | None = None, business_key: str | None = None,
                        limit: int = 100) -> list[UserTask]:
        """Open user tasks offered to a candidate group and/or of a business key, oldest first (for
        operators and tests; the inbox is the ticket store's)."""
        query = sql_select(t.user_tasks)
        if candidate_group is not None:
            query = query.join(t.user_task_groups, t.user_task_groups.c.task_id == t.user_tasks.c.id) \
                .where(t.user_task_groups.c.group_name == candidate_group)
        if business_key is not None:
            query = query.where(t.user_tasks.c.business_key == business_key)
        with self._read() as conn:
            rows = conn.execute(query.order_by(t.user_tasks.c.created_ms, t.user_tasks.c.id).limit(limit)).all()
            return [self._user_view(conn, r) for r in rows]

    def _user_view(self, conn: Connection, row: Any) -> UserTask:
        form: tuple = ()
        process_key = row.process_key
        if row.definition_id:
            definition = self._states.definition(conn, row.definition_id)
            info = definition.info.user_tasks.get(row.activity_id)
            form = info.form if info is not None else ()
            process_key = process_key or definition.process_key
        return UserTask(id=row.id, definition_key=row.activity_id, name=row.name,
                        business_key=row.business_key, process_instance_id=row.instance_id,
                        process_key=process_key, candidate_groups=split_names(row.candidate_groups),
                        candidate_users=split_names(row.candidate_users), assignee=row.assignee,
                        due=datetime_of(row.due_ms), created_at=datetime_of(row.created_ms), form=form)

    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        variables = check_json(variables or {})
        with self._write() as tx:
            conn = tx.conn
            found = conn.execute(Sql.user_task_instance, {"task_id": task_id}).first()
            if found is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            inst = self._lock_instance(conn, found.instance_id)
            # Re-read after the instance lock: a concurrent completion may have won meanwhile.
            still = conn.execute(Sql.user_task_exists, {"task_id": task_id}).first()
            if inst is None or still is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            workflow = self._states.restore(conn, Row(inst))
            task = self._spiff_task(workflow, task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskNotFound(f"user task {task_id} is not open in its process instance")
            before = self._states.completed_ids(workflow)
            inst["variables"] = {**inst["variables"], **variables}

            def run() -> None:
                task.data.update(inst["variables"])
                workflow.pflow_variables = inst["variables"]
                task.run()

            self._states.run_steps(workflow, run)
            self._states.save(tx, inst, workflow, before, completed_by)

    @staticmethod
    def _spiff_task(workflow: BpmnWorkflow, task_id: str):
        try:
            return workflow.get_task_from_id(uuid.UUID(task_id))
        except (ValueError, KeyError, TypeError):
            return None
        except Exception:  # SpiffWorkflow raises its own TaskNotFoundException
            return None

    # ------------------------------------------------------------ external tasks

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        if not topics or max_tasks < 1:
            return []
        deadline = time.monotonic() + max(0, wait_ms) / 1000
        waiters = self._waiters
        interrupts = waiters.interrupts
        if wait_ms > 0:
            waiters.ensure_listener()
        first = True
        while True:
            generation = waiters.generation()
            locked = self._try_lock(worker_id, topics, max_tasks, lock_duration_ms, business_key, look_first=not first)
            first = False
            if locked:
                return locked
            remaining = deadline - time.monotonic()
            if remaining <= 0 or waiters.interrupts != interrupts or waiters.closed:
                return []
            waiters.wait(generation, interrupts,
                         min(remaining, self._next_change_s(topics, business_key), waiters.recheck_interval()))
            if waiters.interrupts != interrupts:
                return []

    def _next_change_s(self, topics: Sequence[str], business_key: str | None) -> float:
        """Seconds until the next lock expiry or retry time among the topics' tasks (inf if none)."""
        c = t.external_tasks.c
        now = self._now_ms()
        conditions = [c.topic.in_(list(topics)), or_(c.retries.is_(None), c.retries > 0)]
        if business_key is not None:
            conditions.append(c.business_key == business_key)
        with self._read(snapshot=False) as conn:  # a hint for how long to sleep: no snapshot needed
            lock_at = conn.execute(sql_select(func.min(c.lock_expires_ms))
                                   .where(and_(*conditions, c.lock_expires_ms > now))).scalar()
            retry_at = conn.execute(sql_select(func.min(c.available_ms))
                                    .where(and_(*conditions, c.available_ms > now))).scalar()
        upcoming = [v for v in (lock_at, retry_at) if v is not None]
        return (min(upcoming) - now) / 1000 + 0.002 if upcoming else float("inf")

    def _try_lock(self, worker_id: str, topics: Sequence[str], max_tasks: int, lock_duration_ms: int,
                  business_key: str | None, *, look_first: bool) -> list[ExternalTask]:
        by_key = business_key is not None
        params: dict[str, Any] = {"topics": list(topics), "held": self._waiters.held_ids()}
        if by_key:
            params["business_key"] = business_key
        if self._sqlite and look_first:
            # Re-checks of a waiting fetch look without the write lock first, so idle pollers do not queue
            # behind writers.
            with self._read(snapshot=False) as conn:
                if conn.execute(Sql.fetchable[by_key], {**params, "now": self._now_ms()}).first() is None:
                    return []
        with self._write(automated=True) as tx:
            now = self._now_ms()
            params["held"] = self._waiters.held_ids()  # read under the writer lock: holds are made under it too
            query = (Sql.fetch_ids_skip_locked if self._postgres else Sql.fetch_ids)[by_key]
            ids = list(tx.conn.execute(query, {**params, "now": now, "max_tasks": max_tasks}).scalars())
            if not ids:
                return []
            tx.conn.execute(Sql.lock_external_tasks, {"ids": ids, "worker_id": worker_id,
                                                       "expires": now + lock_duration_ms})
            rows = tx.conn.execute(Sql.fetched_tasks, {"ids": ids}).all()
            return [self._external_view(tx.conn, r, now) for r in rows]

    def _external_view(self, conn: Connection, row: Any, now: int) -> ExternalTask:
        locked = row.worker_id is not None and row.lock_expires_ms is not None and row.lock_expires_ms > now
        name = row.activity_id
        if row.definition_id:
            name = self._states.definition(conn, row.definition_id).info.names.get(row.activity_id, row.activity_id)
        return ExternalTask(
            id=row.id, topic=row.topic, business_key=row.business_key, process_instance_id=row.instance_id,
            activity_id=row.activity_id, worker_id=row.worker_id if locked else None,
            lock_expires_at=datetime_of(row.lock_expires_ms) if locked else None, retries=row.retries,
            error_message=row.error_message, variables=dict(getattr(row, "variables", None) or {}),
            activity_name=name)

    def _locked_task(self, conn: Connection, task_id: str, worker_id: str, *, lock_instance: bool):
        """The task row, locked, after checking that ``worker_id`` holds an unexpired lock on it."""
        found = conn.execute(Sql.external_task_instance, {"task_id": task_id}).first()
        if found is None:
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        inst = self._lock_instance(conn, found.instance_id) if lock_instance else None
        row = conn.execute(Sql.lock_external_task, {"task_id": task_id}).first()
        if row is None or (lock_instance and inst is None):
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        if row.worker_id != worker_id or row.lock_expires_ms is None or row.lock_expires_ms <= self._now_ms():
            raise TaskLockedByOtherWorker(f"external task {task_id} is not locked by worker {worker_id!r}")
        return row, inst

    def _open_external(self, conn: Connection, task_id: str, worker_id: str):
        """The instance row (locked), its workflow, the worker's open external task in it, and what had
        completed before: where completing it or ending it with a BPMN error starts."""
        _, inst = self._locked_task(conn, task_id, worker_id, lock_instance=True)
        workflow = self._states.restore(conn, Row(inst))
        task = self._spiff_task(workflow, task_id)
        if task is None or task.state != TaskState.STARTED:
            raise TaskNotFound(f"external task {task_id} is not open in its process instance")
        return inst, workflow, task, self._states.completed_ids(workflow)

    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        variables = check_json(variables or {})
        with self._write(automated=True) as tx:
            inst, workflow, task, before = self._open_external(tx.conn, task_id, worker_id)
            inst["variables"] = {**inst["variables"], **variables}
            if inst["state"] == InstanceState.INCIDENT:
                inst["state"] = InstanceState.ACTIVE  # recomputed from the remaining tasks in _save

            def run() -> None:
                task.data.update(inst["variables"])
                workflow.pflow_variables = inst["variables"]
                task.complete()

            self._states.run_steps(workflow, run)
            self._states.save(tx, inst, workflow, before, worker_id)

    def fail(self, task_id: str, worker_id: str, error_message: str, *, retries: int, retry_timeout_ms: int,
             error_details: str | None = None) -> None:
        with self._write(automated=True) as tx:
            conn = tx.conn
            _, inst = self._locked_task(conn, task_id, worker_id, lock_instance=True)
            retries = max(0, int(retries))
            now = self._now_ms()
            conn.execute(update(t.external_tasks).where(t.external_tasks.c.id == task_id).values(
                worker_id=None, lock_expires_ms=None, retries=retries, error_message=(error_message or "failed"),
                error_details=error_details, available_ms=now + max(0, int(retry_timeout_ms))))
            if retries == 0:
                conn.execute(update(t.instances).where(t.instances.c.id == inst["id"]).values(
                    state=InstanceState.INCIDENT, updated_ms=now))
            tx.wake = True  # waiting fetches recompute when this task comes back

    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, *, error_message: str | None = None,
                   variables: dict[str, Any] | None = None) -> None:
        if not isinstance(error_code, str) or not error_code.strip():
            raise ValidationError("errorCode: a BPMN error needs a code (the errorCode of a bpmn:error)")
        variables = check_json(variables or {})
        with self._write(automated=True) as tx:
            inst, workflow, task, before = self._open_external(tx.conn, task_id, worker_id)
            boundary = catching_boundary(task, error_code)
            if boundary is not None:
                info = self._states.definition(tx.conn, inst["definition_id"]).info
                code_var, message_var = info.error_variables.get(boundary.task_spec.bpmn_id, (None, None))
                variables = {**variables, **({code_var: error_code} if code_var else {}),
                             **({message_var: error_message} if message_var else {})}
            inst["variables"] = {**inst["variables"], **variables}
            if inst["state"] == InstanceState.INCIDENT:
                inst["state"] = InstanceState.ACTIVE  # recomputed from the remaining tasks in _save

            def run() -> None:
                task.data.update(inst["variables"])
                workflow.pflow_variables = inst["variables"]
                if boundary is not None:
                    catch(boundary, error_code, task.data)
                else:
                    log.info("embedded engine: BPMN error %r of %s (%s) is caught nowhere; its execution ends",
                             error_code, task.task_spec.bpmn_id, inst["business_key"])
                    end_execution(task)

            self._states.run_steps(workflow, run)
            self._states.save(tx, inst, workflow, before, worker_id)

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        with self._write(automated=True) as tx:
            self._locked_task(tx.conn, task_id, worker_id, lock_instance=False)
            tx.conn.execute(update(t.external_tasks).where(t.external_tasks.c.id == task_id).values(
                lock_expires_ms=self._now_ms() + int(new_duration_ms)))

    def unlock(self, task_id: str, worker_id: str) -> None:
        with self._write(automated=True) as tx:
            self._locked_task(tx.conn, task_id, worker_id, lock_instance=False)
            # Retries, retry time and error stay as they are: the worker did not try.
            tx.conn.execute(update(t.external_tasks).where(t.external_tasks.c.id == task_id).values(
                worker_id=None, lock_expires_ms=None))
            tx.wake = True

    def automated_steps(self, business_key: str) -> list[ExternalTask]:
        c = t.external_tasks.c
        with self._read() as conn:
            rows = conn.execute(
                sql_select(t.external_tasks, t.instances.c.variables)
                .join(t.instances, t.instances.c.id == c.instance_id)
                .where(t.instances.c.running_key == business_key).order_by(c.created_ms, c.id)).all()
            now = self._now_ms()
            return [self._external_view(conn, r, now) for r in rows]

    def external_task(self, task_id: str) -> ExternalTask:
        c = t.external_tasks.c
        with self._read() as conn:
            row = conn.execute(
                sql_select(t.external_tasks, t.instances.c.variables)
                .join(t.instances, t.instances.c.id == c.instance_id).where(c.id == str(task_id))).first()
            if row is None:
                raise TaskNotFound(f"external task {task_id} does not exist or is completed")
            return self._external_view(conn, row, self._now_ms())

    def find_external_tasks_by_topic(self, topic: str, *, limit: int = 100) -> list[ExternalTask]:
        """Open external tasks of a topic (locked or not, incidents included), oldest first."""
        c = t.external_tasks.c
        with self._read() as conn:
            rows = conn.execute(
                sql_select(t.external_tasks, t.instances.c.variables)
                .join(t.instances, t.instances.c.id == c.instance_id)
                .where(c.topic == topic).order_by(c.created_ms, c.id).limit(limit)).all()
            now = self._now_ms()
            return [self._external_view(conn, r, now) for r in rows]

    def retry_step(self, task_id: str, retries: int) -> None:
        c = t.external_tasks.c
        with self._write() as tx:
            conn = tx.conn
            found = conn.execute(sql_select(c.instance_id).where(c.id == task_id)).first()
            if found is None:
                raise TaskNotFound(f"external task {task_id} does not exist or is completed")
            inst = self._lock_instance(conn, found.instance_id)
            if inst is None or conn.execute(sql_select(c.id).where(c.id == task_id).with_for_update()).first() is None:
                raise TaskNotFound(f"external task {task_id} does not exist or is completed")
            values: dict[str, Any] = {"retries": int(retries)}
            if retries > 0:
                values.update(available_ms=0, error_message=None, error_details=None)
            conn.execute(update(t.external_tasks).where(c.id == task_id).values(**values))
            stuck = conn.execute(sql_select(func.count()).select_from(t.external_tasks).where(
                and_(c.instance_id == inst["id"], c.retries == 0))).scalar()
            state = InstanceState.INCIDENT if stuck else InstanceState.ACTIVE
            if inst["state"] in RUNNING and state != inst["state"]:
                conn.execute(update(t.instances).where(t.instances.c.id == inst["id"]).values(
                    state=state, updated_ms=self._now_ms()))
            tx.wake = True

    # ------------------------------------------------------------------ timers

    def fire_due_timers(self, *, limit: int = 100) -> list[str]:
        fired: list[str] = []
        skipped: list[str] = []
        while len(fired) < limit:
            outcome = self._fire_next(skipped)
            if outcome is None:
                break
            if outcome:
                fired.append(outcome)
        return list(dict.fromkeys(fired))

    def _fire_next(self, skipped: list[str]) -> str | None:
        """Fire the due timers of the instance whose timer is due first; its business key, "" when that
        instance was busy or ended meanwhile (try the next), None when nothing is due."""
        with self._write(automated=True) as tx:
            conn, now = tx.conn, self._now_ms()
            instance_id = conn.execute(Sql.due_timer_instance, {"now": now, "skipped": skipped}).scalar()
            if instance_id is None:
                return None
            # The instance first, as every other change takes it, so a timer never deadlocks a completion;
            # another process firing or completing on it right now: leave it to them.
            lock = Sql.lock_instance_skip_locked if self._postgres else Sql.lock_instance
            row = conn.execute(lock, {"instance_id": instance_id}).first()
            if row is None:
                skipped.append(instance_id)
                return ""
            inst = dict(row._mapping)
            if inst["state"] not in RUNNING:
                conn.execute(Sql.delete_timers_of_instance, {"instance_id": instance_id})
                return ""
            if conn.execute(Sql.instance_has_due_timer, {"instance_id": instance_id, "now": now}).first() is None:
                return ""  # fired by another process between our two reads
            workflow = self._states.restore(conn, Row(inst))
            before = self._states.completed_ids(workflow)
            try:
                self._states.run_steps(workflow, workflow.refresh_timers)
            except ValidationError as exc:
                # The model cannot go on from the timer (e.g. an expression fails): the timer stays due and is
                # retried later, never lost; the operator sees why in the log.
                log.warning("embedded engine: timer of instance %s (%s) cannot fire: %s", instance_id,
                            inst["business_key"], exc.message)
                skipped.append(instance_id)
                return ""
            self._states.save(tx, inst, workflow, before, None)
            return inst["business_key"]

    def next_timer_due(self) -> datetime | None:
        with self._read(snapshot=False) as conn:
            return datetime_of(conn.execute(Sql.next_timer_due).scalar())

    # ------------------------------------------------------------------ queries

    def _latest_instance(self, conn: Connection, business_key: str):
        return conn.execute(Sql.latest_instance, {"business_key": business_key}).first()

    def instance(self, business_key: str) -> InstanceView | None:
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return None
            incidents = conn.execute(
                sql_select(t.external_tasks.c.activity_id)
                .where(and_(t.external_tasks.c.instance_id == row.id, t.external_tasks.c.retries == 0))
                .order_by(t.external_tasks.c.created_ms)).scalars().all()
            info = self._states.definition(conn, row.definition_id).info
        completed = tuple(h[0] for h in row.history)
        return InstanceView(
            instance_id=row.id, business_key=business_key, process_key=row.process_key,
            definition_id=row.definition_id, state=row.state,
            active_activity_ids=tuple(row.active_activity_ids), completed_activity_ids=completed,
            variables=dict(row.variables), incidents=tuple(incidents), end_activity_id=end_of(row, info),
            activity_names=dict(info.names), started_at=datetime_of(row.started_ms))

    def progress(self, business_key: str, *, history: bool = False) -> InstanceProgress | None:
        # One snapshot: the instance, its open tasks and its history can never disagree.
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return None
            info = self._states.definition(conn, row.definition_id).info
            tasks: tuple[UserTask, ...] = ()
            automated: tuple[ExternalTask, ...] = ()
            if row.state in RUNNING:
                tasks = tuple(self._user_view(conn, r) for r in conn.execute(
                    Sql.user_tasks_of, {"instance_id": row.id}).all())
                now = self._now_ms()
                automated = tuple(self._external_view(conn, r, now) for r in conn.execute(
                    Sql.external_tasks_of, {"instance_id": row.id}).all())
        return InstanceProgress(
            instance_id=row.id, definition_id=row.definition_id, state=row.state, tasks=tasks,
            automated=automated, end_activity_id=end_of(row, info), started_at=datetime_of(row.started_ms),
            completed=tuple(completed_of(row, info)) if history else None,
            variables=dict(row.variables) if history else None)

    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return []
            info = self._states.definition(conn, row.definition_id).info
        return completed_of(row, info)

    def model(self, definition_id: str) -> ProcessModel:
        with self._read(snapshot=False) as conn:
            info = self._states.definition(conn, definition_id).info
        return ProcessModel(
            process_key=info.key, properties=dict(info.properties), outcomes=dict(info.outcomes),
            topics=tuple(dict.fromkeys(info.topics.values())), candidate_groups=info.candidate_groups,
            task_properties={tid: dict(task.properties) for tid, task in info.user_tasks.items()})

    def definition_xml(self, definition_id: str) -> str:
        with self._read(snapshot=False) as conn:
            row = conn.execute(Sql.definition, {"definition_id": definition_id}).first()
        if row is None:
            raise NotFound(f"process definition {definition_id} was not found")
        return row.xml

    def latest_definition_id(self, process_key: str) -> str:
        with self._read(snapshot=False) as conn:
            row = self._states.latest_definition_row(conn, process_key)
        if row is None:
            raise NotFound(f"no process {process_key!r} is deployed on the {self.name}")
        return row.id

    def check(self) -> None:
        with self._read(snapshot=False) as conn:
            conn.execute(sql_select(t.definitions.c.id).limit(1)).first()

    # ------------------------------------------------------------------ waiting

    def interrupt_waits(self) -> None:
        self._waiters.interrupt()

    def close(self) -> None:
        self._waiters.close()
