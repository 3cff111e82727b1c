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
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import logging
import select
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select as sql_select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from pflow.adapters.bpmn.reader import BpmnReadError, ProcessDefinitionInfo, read_processes, split_names
from pflow.adapters.spiff import tables as t
from pflow.adapters.database.engine import PRECEDENCE, SqliteWriterLock, sqlite_writer_lock
from pflow.adapters.spiff.bpmn import (
    ApprovalUserTaskSpec,
    ConditionEngine,
    ConditionError,
    ExternalTaskSpec,
    ParsedDefinition,
    load_definition,
    make_serializer,
)
from pflow.adapters.spiff.expressions import ExpressionFailed, ExpressionRejected, evaluate_names, evaluate_value
from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable, NotFound, ValidationError
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
    UserTask,
)

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "pflow_external_tasks"
_RUNNING = (InstanceState.ACTIVE, InstanceState.INCIDENT)
_VERSION_KEY = "serializer_version"


class _Definition:
    """A deployed definition, parsed once per process (definitions never change)."""

    def __init__(self, row: Any, parsed: ParsedDefinition, info: ProcessDefinitionInfo) -> None:
        self.id = row.id
        self.process_key = row.process_key
        self.version = row.version
        self.parsed = parsed
        self.info = info  # what the shared BPMN reader sees: forms, candidates, outcomes, properties


@dataclass
class _Tx:
    conn: Connection
    wake: bool = False  # a task became fetchable: wake waiting fetches after commit
    created: list[str] = field(default_factory=list)  # external tasks this transaction created


def _fetchable_where(*, by_business_key: bool):
    c = t.external_tasks.c
    conditions = [c.topic.in_(bindparam("topics", expanding=True)),
                  or_(c.worker_id.is_(None), c.lock_expires_ms.is_(None), c.lock_expires_ms <= bindparam("now")),
                  or_(c.retries.is_(None), c.retries > 0),
                  c.available_ms <= bindparam("now"),
                  c.id.not_in(bindparam("held", expanding=True))]
    if by_business_key:
        conditions.append(c.business_key == bindparam("business_key"))
    return and_(*conditions)


_I, _U, _X = t.instances, t.user_tasks, t.external_tasks


class _Sql:
    """The statements of the hot path (start, complete, fetch), built once with bind parameters.

    Building a SQLAlchemy statement and its cache key costs about three times as much as running it
    on SQLite (~70 µs against ~25 µs, measured by benchmarks/engine_flows.py), and a full flow runs
    about thirty of them. Values go in as execution parameters; ``UPDATE``/``INSERT`` without
    ``.values()`` take their columns from the parameter names.
    """

    definition = sql_select(t.definitions).where(t.definitions.c.id == bindparam("definition_id"))
    latest_definition = (sql_select(t.definitions).where(t.definitions.c.process_key == bindparam("process_key"))
                         .order_by(t.definitions.c.version.desc()).limit(1))
    definition_by_digest = (sql_select(t.definitions)
                            .where(and_(t.definitions.c.process_key == bindparam("process_key"),
                                        t.definitions.c.digest == bindparam("digest")))
                            .order_by(t.definitions.c.version).limit(1))
    running_instance = sql_select(_I.c.id, _I.c.process_key, _I.c.definition_id).where(
        _I.c.running_key == bindparam("business_key"))
    lock_instance = sql_select(_I).where(_I.c.id == bindparam("instance_id")).with_for_update()
    latest_instance = (sql_select(_I.c.id, _I.c.definition_id, _I.c.process_key, _I.c.state, _I.c.active_activity_ids,
                                  _I.c.history, _I.c.variables, _I.c.started_ms)
                       .where(_I.c.business_key == bindparam("business_key")).order_by(_I.c.seq.desc()).limit(1))
    insert_instance = insert(_I)
    update_instance = update(_I).where(_I.c.id == bindparam("_instance_id"))
    user_tasks_of_instance = sql_select(_U.c.id).where(_U.c.instance_id == bindparam("instance_id"))
    external_tasks_of_instance = sql_select(_X.c.id, _X.c.retries).where(_X.c.instance_id == bindparam("instance_id"))
    delete_groups = delete(t.user_task_groups).where(t.user_task_groups.c.task_id.in_(bindparam("ids", expanding=True)))
    delete_user_tasks = delete(_U).where(_U.c.id.in_(bindparam("ids", expanding=True)))
    delete_external_tasks = delete(_X).where(_X.c.id.in_(bindparam("ids", expanding=True)))
    insert_user_task = insert(_U)
    insert_group = insert(t.user_task_groups)
    insert_external_task = insert(_X)
    open_user_tasks = (sql_select(_U).join(_I, _I.c.id == _U.c.instance_id)
                       .where(_I.c.running_key == bindparam("business_key"))
                       .order_by(_U.c.created_ms, _U.c.id))
    user_tasks_of = (sql_select(_U).where(_U.c.instance_id == bindparam("instance_id"))
                     .order_by(_U.c.created_ms, _U.c.id))
    external_tasks_of = (sql_select(_X, _I.c.variables).join(_I, _I.c.id == _X.c.instance_id)
                         .where(_X.c.instance_id == bindparam("instance_id")).order_by(_X.c.created_ms, _X.c.id))
    user_task = sql_select(_U).where(_U.c.id == bindparam("task_id"))
    user_task_instance = sql_select(_U.c.instance_id).where(_U.c.id == bindparam("task_id"))
    user_task_exists = sql_select(_U.c.id).where(_U.c.id == bindparam("task_id"))
    external_task_instance = sql_select(_X.c.instance_id).where(_X.c.id == bindparam("task_id"))
    lock_external_task = sql_select(_X).where(_X.c.id == bindparam("task_id")).with_for_update()
    fetchable = {key: sql_select(_X.c.id).where(_fetchable_where(by_business_key=key)).limit(1)
                 for key in (False, True)}
    fetch_ids = {key: (sql_select(_X.c.id).where(_fetchable_where(by_business_key=key))
                       .order_by(_X.c.created_ms, _X.c.id).limit(bindparam("max_tasks")))
                 for key in (False, True)}
    fetch_ids_skip_locked = {key: query.with_for_update(skip_locked=True) for key, query in fetch_ids.items()}
    lock_external_tasks = (update(_X).where(_X.c.id.in_(bindparam("ids", expanding=True)))
                           .values(worker_id=bindparam("worker_id"), lock_expires_ms=bindparam("expires")))
    fetched_tasks = (sql_select(_X, _I.c.variables).join(_I, _I.c.id == _X.c.instance_id)
                     .where(_X.c.id.in_(bindparam("ids", expanding=True))).order_by(_X.c.created_ms, _X.c.id))


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _dt(ms: int | None):
    return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc)


def _typed(value: Any) -> Any:
    """A variable as the instance stores it: JSON values as they are, ``Decimal`` as a float (Camunda's
    Double), dates and date-times as ISO-8601 text; tuples and sets as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _typed(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _check_json(variables: dict[str, Any]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not name:
            raise ValidationError("process variable names must be non-empty strings", {"variables": [repr(name)]})
        try:
            typed[name] = _typed(value)
            json.dumps(typed[name])
        except (TypeError, ValueError):
            raise ValidationError(f"process variable {name!r} is not JSON ({type(value).__name__})",
                                  {name: ["must be text, a number, a boolean, a date, null, a list or an object"]}
                                  ) from None
    return typed


_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def _add_duration(start_ms: int, text: str) -> int:
    """``start_ms`` + an ISO-8601 duration; years and months are calendar steps, as in Camunda."""
    match = _DURATION.match(text)
    if not match or text.upper() in ("P", "PT") or text.upper().endswith("T"):
        raise ValueError(text)
    years, months, weeks, days, hours, minutes = (int(g or 0) for g in match.groups()[:6])
    seconds = float(match.group(7) or 0)
    moment = datetime.fromtimestamp(start_ms / 1000, timezone.utc)
    if years or months:
        total = moment.month - 1 + months + 12 * years
        year, month = moment.year + total // 12, total % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moment = moment.replace(year=year, month=month, day=day)
    moment += timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return int(moment.timestamp() * 1000)


def _due_ms(value: Any, created_ms: int, where: str) -> int | None:
    """``camunda:dueDate`` as Camunda reads it: an ISO-8601 date-time (or date), or an ISO-8601 duration
    such as ``P3D`` / ``PT4H`` counted from the task's creation."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.upper().startswith("P"):
        try:
            return _add_duration(created_ms, text)
        except ValueError:
            raise ValidationError(f"{where}: camunda:dueDate {text!r} is not an ISO-8601 duration",
                                  {"dueDate": [f"{text!r} is not an ISO-8601 date-time or duration"]}) from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{where}: camunda:dueDate {text!r} is not an ISO-8601 date-time",
                              {"dueDate": [f"{text!r} is not an ISO-8601 date-time or duration"]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _end_of(row: Any, info: ProcessDefinitionInfo) -> str | None:
    """The end event a completed instance reached (None while it runs or when it was stopped)."""
    if row.state != InstanceState.COMPLETED:
        return None
    return next((h[0] for h in reversed(row.history) if h[0] in info.outcomes), None)


def _completed_of(row: Any, info: ProcessDefinitionInfo) -> list[CompletedTask]:
    """The user tasks an instance's history records as completed, oldest first."""
    done = []
    for index, entry in enumerate(row.history):
        activity = entry[0]
        task_info = info.user_tasks.get(activity)
        if task_info is None:
            continue
        task_id = entry[3] if len(entry) > 3 and entry[3] else f"{row.id}:{index}"  # rows from before 0005
        done.append(CompletedTask(id=task_id, definition_key=activity, name=task_info.name,
                                  completed_by=entry[2] if len(entry) > 2 else None,
                                  completed_at=_dt(entry[1])))
    return done


class SpiffWorkflowEngine(ProcessEngine, ExternalTasks):
    """The process ports on SpiffWorkflow, persisted with SQLAlchemy (SQLite or PostgreSQL).

    Any number of processes and versions live side by side: every query is scoped by the business
    key's instance, a task id or a definition id, never by a process name."""

    name = "embedded engine"

    def __init__(self, db: Engine, *, clock: Callable[[], float] = time.time,
                 poll_interval_s: float = 0.25, listen: bool = True, notified_recheck_s: float = 5.0,
                 hold_s: float = 5.0) -> None:
        self._db = db
        self._clock = clock
        self._sqlite = db.dialect.name == "sqlite"
        self._postgres = db.dialect.name == "postgresql"
        # SQLite: the same per-file lock as the ticket store's writers, so they queue instead of polling
        # (None elsewhere: PostgreSQL locks the rows).
        self._write_lock: SqliteWriterLock | None = sqlite_writer_lock(db)
        self._cv = threading.Condition()
        self._generation = 0  # bumped whenever a task may have become fetchable
        self._interrupts = 0
        self._serializer = make_serializer()
        self._conditions = ConditionEngine()
        self._definitions: dict[str, _Definition] = {}
        self._definitions_lock = threading.Lock()
        self._held: dict[str, float] = {}  # external task id -> monotonic time its hold ends at the latest
        self._hold_s = hold_s
        # Without a notification channel (SQLite, or before the listener runs) waits re-check this often,
        # to see tasks other processes created; with LISTEN/NOTIFY only as a safety net.
        self._poll_interval_s = poll_interval_s
        self._notified_recheck_s = notified_recheck_s
        self._listen = listen and self._postgres and db.dialect.driver == "psycopg2"
        self._listener: _PgListener | None = None
        self._closed = False

    # ============================================================ transactions

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Translate database errors: unreachable or missing tables -> ``EngineUnavailable``; a lost
        deadlock or serialization race -> ``ConcurrencyConflict``; anything else stays as it is."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            orig = getattr(exc, "orig", None)
            text = str(orig if orig is not None else exc).strip()
            lowered = text.lower()
            if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
                raise EngineUnavailable(self.name, f"the {self.name}'s tables are missing in the database "
                                                   f"({text.splitlines()[0]}); run the database migrations first"
                                        ) from None
            if getattr(orig, "pgcode", None) in ("40001", "40P01"):
                raise ConcurrencyConflict(f"the {self.name} lost a race in the database; try again") from None
            if isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated:
                where = self._db.url.render_as_string(hide_password=True)
                first = text.splitlines()[0] if text else type(exc).__name__
                raise EngineUnavailable(self.name, f"the {self.name} cannot use its database ({where}): {first}"
                                        ) from None
            raise

    @contextmanager
    def _write(self, *, automated: bool = False) -> Iterator[_Tx]:
        """A read-modify-write transaction, serialized against other writers of the same rows.

        ``automated``: a step of the external-task side (fetch, complete, fail, extend). On SQLite these go
        ahead of waiting request writers, so the automated part of a flow keeps pace with the approvals
        that feed it instead of queueing behind every request thread."""
        tx: _Tx
        with self._guard():
            if self._sqlite:
                # The connection first, then the file's writer lock, as the ticket store's units of work do:
                # whoever holds the lock never waits for anything but the database itself.
                with self._db.connect() as raw, self._write_lock.holding(PRECEDENCE if automated else None):
                    conn = raw.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    tx = _Tx(conn)
                    try:
                        yield tx
                    except BaseException:
                        try:
                            conn.exec_driver_sql("ROLLBACK")
                        except Exception:  # the original error matters more
                            log.debug("rollback failed", exc_info=True)
                        raise
                    conn.exec_driver_sql("COMMIT")
                    if tx.created and not automated and self._hold_until_units_end(tx.created):
                        tx.wake = False  # the end of the caller's unit of work wakes the fetchers
                if not automated:
                    self._write_lock.note_engine_step()
            else:
                with self._db.begin() as conn:
                    tx = _Tx(conn)
                    yield tx
                    if tx.wake and self._postgres:
                        conn.execute(sql_select(func.pg_notify(NOTIFY_CHANNEL, "")))
        if tx.wake:
            self._wake()

    @contextmanager
    def _read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """A read-only transaction with one snapshot for all its statements (``snapshot=False``: for a
        single statement, which needs none)."""
        with self._guard():
            if not snapshot:
                with self._db.connect() as conn:
                    yield conn
                    conn.rollback()
            elif self._sqlite:
                with self._db.connect() as raw:
                    conn = raw.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("BEGIN")
                    try:
                        yield conn
                    finally:
                        conn.exec_driver_sql("COMMIT")
            else:
                with self._db.connect() as raw:
                    conn = raw.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        yield conn

    def _hold_until_units_end(self, task_ids: list[str]) -> bool:
        """Keep this process's fetches off tasks that a caller's open unit of work is about to record on
        its ticket (the approval that created the provisioning task), until that unit of work ends.

        Otherwise the worker the task wakes reads the ticket before the approval's commit, and its own
        write then loses to it and costs the flow a retry. Called while the writer lock is still held,
        so no fetch of this process can see the tasks before they are held. Holds end after
        ``hold_s`` at the latest, should a caller never end its unit of work."""
        ids = tuple(task_ids)
        with self._cv:
            deadline = time.monotonic() + self._hold_s
            for task_id in ids:
                self._held[task_id] = deadline
        if self._write_lock.after_units(lambda: self._release_held(ids)):
            return True
        self._release_held(ids, wake=False)
        return False

    def _release_held(self, task_ids: tuple[str, ...], *, wake: bool = True) -> None:
        with self._cv:
            for task_id in task_ids:
                self._held.pop(task_id, None)
        if wake:
            self._wake()

    def _held_ids(self) -> list[str]:
        if not self._held:
            return []
        now = time.monotonic()
        with self._cv:
            for task_id in [t for t, deadline in self._held.items() if deadline <= now]:
                del self._held[task_id]
            return list(self._held)

    def _wake(self) -> None:
        with self._cv:
            self._generation += 1
            self._cv.notify_all()

    def _now_ms(self) -> int:
        return _ms(self._clock())

    # ============================================================ definitions

    def _definition(self, conn: Connection, definition_id: str) -> _Definition:
        cached = self._definitions.get(definition_id)
        if cached is not None:
            return cached
        row = conn.execute(_Sql.definition, {"definition_id": definition_id}).first()
        if row is None:
            raise NotFound(f"process definition {definition_id} was not found")
        parsed = load_definition(row.xml, row.source_name, row.process_key)
        info = read_processes(row.xml, row.source_name)[row.process_key]
        with self._definitions_lock:
            return self._definitions.setdefault(definition_id, _Definition(row, parsed, info))

    def _latest_definition_row(self, conn: Connection, process_key: str):
        return conn.execute(_Sql.latest_definition, {"process_key": process_key}).first()

    # ============================================================ instance state

    def _restore(self, conn: Connection, row: Any) -> BpmnWorkflow:
        definition = self._definition(conn, row.definition_id)
        dct = json.loads(row.serialized)
        # A state written by an older SpiffWorkflow is brought up to date first (it holds no spec).
        self._serializer.migrate(dct)
        # Instances are stored without their spec: it is parsed from the definition's XML by the running
        # SpiffWorkflow version and goes back in as the object itself. The serializer leaves objects it does
        # not recognise untouched, and instances share specs as BpmnWorkflow(spec) does.
        dct["spec"] = definition.parsed.spec
        dct["subprocess_specs"] = dict(definition.parsed.subprocess_specs)
        workflow = self._serializer.from_dict(dct)
        workflow.script_engine = self._conditions  # not serialized: attach it again after every restore
        return workflow

    def _serialize(self, workflow: BpmnWorkflow) -> str:
        dct = self._serializer.to_dict(workflow)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        dct[_VERSION_KEY] = self._serializer.VERSION
        return json.dumps(dct, separators=(",", ":"))

    @staticmethod
    def _completed_ids(workflow: BpmnWorkflow) -> set:
        return {task.id for task in workflow.get_tasks(state=TaskState.COMPLETED)
                if getattr(task.task_spec, "bpmn_id", None)}

    @staticmethod
    def _run_steps(workflow: BpmnWorkflow, action: Callable[[], None] | None = None) -> None:
        """Apply ``action`` and run engine steps until the instance waits; condition errors refuse the change."""
        key = workflow.spec.name
        try:
            if action is not None:
                action()
            workflow.do_engine_steps()
        except ConditionError as exc:
            raise ValidationError(f"process {key!r}: {exc}") from None
        except SpiffWorkflowException as exc:
            raise ValidationError(f"process {key!r}: the embedded engine could not continue: "
                                  f"{str(exc).splitlines()[0]}") from None

    def _save(self, tx: _Tx, inst: dict[str, Any], workflow: BpmnWorkflow, before: set, actor: str | None,
              *, new: bool = False) -> None:
        """Write the instance and bring its open-task side tables in line with the SpiffWorkflow state."""
        conn, now = tx.conn, self._now_ms()
        newly, open_user, open_external = [], [], []
        for task in workflow.get_tasks():  # one walk over the task tree
            spec = task.task_spec
            if task.state == TaskState.COMPLETED:
                if task.id not in before and getattr(spec, "bpmn_id", None):
                    newly.append(task)
            elif task.state == TaskState.READY and isinstance(spec, ApprovalUserTaskSpec):
                open_user.append(task)
            elif task.state == TaskState.STARTED and isinstance(spec, ExternalTaskSpec):
                open_external.append(task)
        newly.sort(key=lambda task: (task.last_state_change, task.depth))
        history = list(inst["history"])
        for task in newly:
            by = actor if isinstance(task.task_spec, (ApprovalUserTaskSpec, ExternalTaskSpec)) else None
            history.append([task.task_spec.bpmn_id, _ms(task.last_state_change), by, str(task.id)])

        if new:
            existing_user: set[str] = set()
            existing_external: dict[str, int | None] = {}
        else:
            existing_user = set(conn.execute(_Sql.user_tasks_of_instance, {"instance_id": inst["id"]}).scalars())
            existing_external = dict(conn.execute(_Sql.external_tasks_of_instance,
                                                  {"instance_id": inst["id"]}).all())

        user_ids = {str(task.id) for task in open_user}
        external_ids = {str(task.id) for task in open_external}
        gone_user = existing_user - user_ids
        if gone_user:
            conn.execute(_Sql.delete_groups, {"ids": sorted(gone_user)})
            conn.execute(_Sql.delete_user_tasks, {"ids": sorted(gone_user)})
        gone_external = set(existing_external) - external_ids
        if gone_external:
            conn.execute(_Sql.delete_external_tasks, {"ids": sorted(gone_external)})

        completed = workflow.is_completed()
        state = inst["state"]
        if completed:
            state = InstanceState.COMPLETED
        elif state in _RUNNING:
            stuck = any(existing_external[i] == 0 for i in external_ids if i in existing_external)
            state = InstanceState.INCIDENT if stuck else InstanceState.ACTIVE
        values = dict(
            state=state,
            running_key=inst["business_key"] if state in _RUNNING else None,
            variables=inst["variables"],
            active_activity_ids=[task.task_spec.bpmn_id for task in open_user + open_external],
            history=history,
            serialized=self._serialize(workflow),
            revision=inst["revision"] + 1,
            updated_ms=now,
            ended_ms=now if state not in _RUNNING else None,
        )
        if new:
            conn.execute(_Sql.insert_instance, dict(
                id=inst["id"], business_key=inst["business_key"], process_key=inst["process_key"],
                definition_id=inst["definition_id"], started_ms=now, end_reason=None, **values))
        else:
            conn.execute(_Sql.update_instance, {"_instance_id": inst["id"], **values})

        definition = self._definition(conn, inst["definition_id"]) if open_user else None
        for task in open_user:
            task_id = str(task.id)
            if task_id in existing_user:
                continue
            spec: ApprovalUserTaskSpec = task.task_spec
            groups, users, assignee, due = self._resolve_candidates(definition, spec.bpmn_id, inst["variables"], now)
            conn.execute(_Sql.insert_user_task, dict(
                id=task_id, instance_id=inst["id"], business_key=inst["business_key"], activity_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id, candidate_groups=",".join(groups),
                assignee=assignee, created_ms=now, process_key=inst["process_key"],
                definition_id=inst["definition_id"], candidate_users=",".join(users), due_ms=due))
            if groups:
                conn.execute(_Sql.insert_group, [{"group_name": g, "task_id": task_id} for g in groups])
        for task in open_external:
            task_id = str(task.id)
            if task_id in existing_external:
                continue
            conn.execute(_Sql.insert_external_task, dict(
                id=task_id, instance_id=inst["id"], business_key=inst["business_key"],
                activity_id=task.task_spec.bpmn_id, topic=task.task_spec.topic, worker_id=None, lock_expires_ms=None,
                retries=None, available_ms=0, error_message=None, error_details=None, created_ms=now,
                process_key=inst["process_key"], definition_id=inst["definition_id"]))
            tx.wake = True
            tx.created.append(task_id)

    @staticmethod
    def _resolve_candidates(definition: _Definition, activity_id: str, variables: dict[str, Any], now: int):
        """Candidate groups and users, assignee and due date of a new user task, as Camunda resolves them
        when it creates the task: literals as written, ``${...}`` over the process variables with the
        gateways' evaluator. An expression that cannot be evaluated refuses the step that creates the task."""
        info = definition.info.user_tasks.get(activity_id)
        if info is None:
            return (), (), None, None
        where = f"process {definition.process_key!r}, user task {activity_id!r}"
        try:
            groups = evaluate_names(info.candidate_groups, variables)
            users = evaluate_names(info.candidate_users, variables)
            assignee = evaluate_value(info.assignee, variables)
            due = _due_ms(evaluate_value(info.due_date, variables), now, where)
        except (ExpressionFailed, ExpressionRejected) as exc:
            raise ValidationError(f"{where}: {exc}") from None
        assignee = str(assignee).strip() if assignee not in (None, "") else None
        return groups, users, assignee or None, due

    def _lock_instance(self, conn: Connection, instance_id: str) -> dict[str, Any] | None:
        row = conn.execute(_Sql.lock_instance, {"instance_id": instance_id}).first()
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
        for key in processes:
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
                        row = tx.conn.execute(_Sql.definition_by_digest, {"process_key": key, "digest": digest}).first()
                        created = row is None
                        if created:
                            latest = self._latest_definition_row(tx.conn, key)
                            version = (latest.version if latest is not None else 0) + 1
                            definition_id = f"{key}:{version}:{digest[:12]}"
                            tx.conn.execute(insert(t.definitions).values(
                                id=definition_id, process_key=key, version=version, digest=digest,
                                source_name=source, xml=xml, deployed_ms=self._now_ms(),
                                deployment_id=deployment_id))
                            row = tx.conn.execute(_Sql.definition, {"definition_id": definition_id}).one()
                        done.append(Deployment(deployment_id=row.deployment_id or row.id, process_key=key,
                                               definition_id=row.id, version=row.version, created=created))
                    return done
            except IntegrityError:
                if attempt == 2:
                    raise  # pragma: no cover - three concurrent deploys of different content
        raise AssertionError("unreachable")  # pragma: no cover

    def _lock_process_key(self, conn: Connection, process_key: str) -> None:
        """Deploys of one process take turns until their transaction ends. PostgreSQL: an advisory lock,
        since two deploys that both find no row of their content would otherwise both add a version
        (the unique (key, version) only catches two of the same number). SQLite: the writer lock does it."""
        if self._postgres:
            lock_id = int.from_bytes(hashlib.sha256(f"wf-deploy:{process_key}".encode()).digest()[:8], "big",
                                     signed=True)
            conn.execute(sql_select(func.pg_advisory_xact_lock(lock_id)))

    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        variables = _check_json(variables or {})
        for attempt in range(2):
            try:
                with self._write() as tx:
                    conn = tx.conn
                    existing = conn.execute(_Sql.running_instance, {"business_key": business_key}).first()
                    if existing is not None:
                        return ProcessInstance(existing.id, business_key, existing.process_key,
                                               existing.definition_id, created=False)
                    latest = self._latest_definition_row(conn, process_key)
                    if latest is None:
                        raise NotFound(f"no process {process_key!r} is deployed on the {self.name}")
                    definition = self._definition(conn, latest.id)
                    workflow = BpmnWorkflow(definition.parsed.spec, definition.parsed.subprocess_specs,
                                            script_engine=self._conditions)
                    workflow.task_tree.data.update(variables)
                    self._run_steps(workflow)
                    inst = dict(id=str(uuid.uuid4()), business_key=business_key, process_key=process_key,
                                definition_id=definition.id, state=InstanceState.ACTIVE, variables=variables,
                                history=[], revision=0)
                    self._save(tx, inst, workflow, set(), None, new=True)
                    return ProcessInstance(inst["id"], business_key, process_key, definition.id, created=True)
            except IntegrityError:
                # Another process started the same key between our check and insert: return that one.
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def cancel(self, business_key: str, reason: str) -> bool:
        with self._write() as tx:
            conn = tx.conn
            row = conn.execute(_Sql.running_instance, {"business_key": business_key}).first()
            if row is None:
                return False
            inst = self._lock_instance(conn, row.id)
            if inst is None or inst["state"] not in _RUNNING:
                return False
            open_user = sql_select(t.user_tasks.c.id).where(t.user_tasks.c.instance_id == inst["id"])
            conn.execute(delete(t.user_task_groups).where(t.user_task_groups.c.task_id.in_(open_user)))
            conn.execute(delete(t.user_tasks).where(t.user_tasks.c.instance_id == inst["id"]))
            conn.execute(delete(t.external_tasks).where(t.external_tasks.c.instance_id == inst["id"]))
            now = self._now_ms()
            conn.execute(update(t.instances).where(t.instances.c.id == inst["id"]).values(
                state=InstanceState.TERMINATED, running_key=None, active_activity_ids=[], ended_ms=now,
                updated_ms=now, end_reason=(reason or "")[:500], revision=inst["revision"] + 1))
            return True

    def open_tasks(self, business_key: str) -> list[UserTask]:
        with self._read() as conn:
            rows = conn.execute(_Sql.open_user_tasks, {"business_key": business_key}).all()
            return [self._user_view(conn, r) for r in rows]

    def task(self, task_id: str) -> UserTask:
        with self._read() as conn:
            row = conn.execute(_Sql.user_task, {"task_id": task_id}).first()
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
            definition = self._definition(conn, row.definition_id)
            info = definition.info.user_tasks.get(row.activity_id)
            form = info.form if info is not None else ()
            process_key = process_key or definition.process_key
        return UserTask(id=row.id, definition_key=row.activity_id, name=row.name,
                        business_key=row.business_key, process_instance_id=row.instance_id,
                        process_key=process_key, candidate_groups=split_names(row.candidate_groups),
                        candidate_users=split_names(row.candidate_users), assignee=row.assignee,
                        due=_dt(row.due_ms), created_at=_dt(row.created_ms), form=form)

    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        variables = _check_json(variables or {})
        with self._write() as tx:
            conn = tx.conn
            found = conn.execute(_Sql.user_task_instance, {"task_id": task_id}).first()
            if found is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            inst = self._lock_instance(conn, found.instance_id)
            # Re-read after the instance lock: a concurrent completion may have won meanwhile.
            still = conn.execute(_Sql.user_task_exists, {"task_id": task_id}).first()
            if inst is None or still is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            workflow = self._restore(conn, _Row(inst))
            task = self._spiff_task(workflow, task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskNotFound(f"user task {task_id} is not open in its process instance")
            before = self._completed_ids(workflow)
            inst["variables"] = {**inst["variables"], **variables}

            def run() -> None:
                task.data.update(inst["variables"])
                task.run()

            self._run_steps(workflow, run)
            self._save(tx, inst, workflow, before, completed_by)

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
        with self._cv:
            interrupts = self._interrupts
        if wait_ms > 0:
            self._ensure_listener()
        first = True
        while True:
            with self._cv:
                generation = self._generation
            locked = self._try_lock(worker_id, topics, max_tasks, lock_duration_ms, business_key, look_first=not first)
            first = False
            if locked:
                return locked
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._interrupts != interrupts or self._closed:
                return []
            wait = min(remaining, self._next_change_s(topics, business_key), self._recheck_interval())
            with self._cv:
                if self._generation == generation and self._interrupts == interrupts:
                    self._cv.wait(max(wait, 0.001))
            if self._interrupts != interrupts:
                return []

    def _recheck_interval(self) -> float:
        listener = self._listener
        if listener is not None and listener.listening:
            return self._notified_recheck_s  # notifications wake us; this only guards against a lost one
        return self._poll_interval_s

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
        params: dict[str, Any] = {"topics": list(topics), "held": self._held_ids()}
        if by_key:
            params["business_key"] = business_key
        if self._sqlite and look_first:
            # Re-checks of a waiting fetch look without the write lock first, so idle pollers do not queue
            # behind writers.
            with self._read(snapshot=False) as conn:
                if conn.execute(_Sql.fetchable[by_key], {**params, "now": self._now_ms()}).first() is None:
                    return []
        with self._write(automated=True) as tx:
            now = self._now_ms()
            params["held"] = self._held_ids()  # read under the writer lock: holds are made under it too
            query = (_Sql.fetch_ids_skip_locked if self._postgres else _Sql.fetch_ids)[by_key]
            ids = list(tx.conn.execute(query, {**params, "now": now, "max_tasks": max_tasks}).scalars())
            if not ids:
                return []
            tx.conn.execute(_Sql.lock_external_tasks, {"ids": ids, "worker_id": worker_id,
                                                       "expires": now + lock_duration_ms})
            rows = tx.conn.execute(_Sql.fetched_tasks, {"ids": ids}).all()
            return [self._external_view(tx.conn, r, now) for r in rows]

    def _external_view(self, conn: Connection, row: Any, now: int) -> ExternalTask:
        locked = row.worker_id is not None and row.lock_expires_ms is not None and row.lock_expires_ms > now
        name = row.activity_id
        if row.definition_id:
            name = self._definition(conn, row.definition_id).info.names.get(row.activity_id, row.activity_id)
        return ExternalTask(
            id=row.id, topic=row.topic, business_key=row.business_key, process_instance_id=row.instance_id,
            activity_id=row.activity_id, worker_id=row.worker_id if locked else None,
            lock_expires_at=_dt(row.lock_expires_ms) if locked else None, retries=row.retries,
            error_message=row.error_message, variables=dict(getattr(row, "variables", None) or {}),
            activity_name=name)

    def _locked_task(self, conn: Connection, task_id: str, worker_id: str, *, lock_instance: bool):
        """The task row, locked, after checking that ``worker_id`` holds an unexpired lock on it."""
        found = conn.execute(_Sql.external_task_instance, {"task_id": task_id}).first()
        if found is None:
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        inst = self._lock_instance(conn, found.instance_id) if lock_instance else None
        row = conn.execute(_Sql.lock_external_task, {"task_id": task_id}).first()
        if row is None or (lock_instance and inst is None):
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        if row.worker_id != worker_id or row.lock_expires_ms is None or row.lock_expires_ms <= self._now_ms():
            raise TaskLockedByOtherWorker(f"external task {task_id} is not locked by worker {worker_id!r}")
        return row, inst

    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        variables = _check_json(variables or {})
        with self._write(automated=True) as tx:
            conn = tx.conn
            _, inst = self._locked_task(conn, task_id, worker_id, lock_instance=True)
            workflow = self._restore(conn, _Row(inst))
            task = self._spiff_task(workflow, task_id)
            if task is None or task.state != TaskState.STARTED:
                raise TaskNotFound(f"external task {task_id} is not open in its process instance")
            before = self._completed_ids(workflow)
            inst["variables"] = {**inst["variables"], **variables}
            if inst["state"] == InstanceState.INCIDENT:
                inst["state"] = InstanceState.ACTIVE  # recomputed from the remaining tasks in _save

            def run() -> None:
                task.data.update(inst["variables"])
                task.complete()

            self._run_steps(workflow, run)
            self._save(tx, inst, workflow, before, worker_id)

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
            if inst["state"] in _RUNNING and state != inst["state"]:
                conn.execute(update(t.instances).where(t.instances.c.id == inst["id"]).values(
                    state=state, updated_ms=self._now_ms()))
            tx.wake = True

    # ------------------------------------------------------------------ queries

    def _latest_instance(self, conn: Connection, business_key: str):
        return conn.execute(_Sql.latest_instance, {"business_key": business_key}).first()

    def instance(self, business_key: str) -> InstanceView | None:
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return None
            incidents = conn.execute(
                sql_select(t.external_tasks.c.activity_id)
                .where(and_(t.external_tasks.c.instance_id == row.id, t.external_tasks.c.retries == 0))
                .order_by(t.external_tasks.c.created_ms)).scalars().all()
            info = self._definition(conn, row.definition_id).info
        completed = tuple(h[0] for h in row.history)
        return InstanceView(
            instance_id=row.id, business_key=business_key, process_key=row.process_key,
            definition_id=row.definition_id, state=row.state,
            active_activity_ids=tuple(row.active_activity_ids), completed_activity_ids=completed,
            variables=dict(row.variables), incidents=tuple(incidents), end_activity_id=_end_of(row, info),
            activity_names=dict(info.names), started_at=_dt(row.started_ms))

    def progress(self, business_key: str, *, history: bool = False) -> InstanceProgress | None:
        # One snapshot: the instance, its open tasks and its history can never disagree.
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return None
            info = self._definition(conn, row.definition_id).info
            tasks: tuple[UserTask, ...] = ()
            automated: tuple[ExternalTask, ...] = ()
            if row.state in _RUNNING:
                tasks = tuple(self._user_view(conn, r) for r in conn.execute(
                    _Sql.user_tasks_of, {"instance_id": row.id}).all())
                now = self._now_ms()
                automated = tuple(self._external_view(conn, r, now) for r in conn.execute(
                    _Sql.external_tasks_of, {"instance_id": row.id}).all())
        return InstanceProgress(
            instance_id=row.id, definition_id=row.definition_id, state=row.state, tasks=tasks,
            automated=automated, end_activity_id=_end_of(row, info), started_at=_dt(row.started_ms),
            completed=tuple(_completed_of(row, info)) if history else None,
            variables=dict(row.variables) if history else None)

    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        with self._read() as conn:
            row = self._latest_instance(conn, business_key)
            if row is None:
                return []
            info = self._definition(conn, row.definition_id).info
        return _completed_of(row, info)

    def model(self, definition_id: str) -> ProcessModel:
        with self._read(snapshot=False) as conn:
            info = self._definition(conn, definition_id).info
        return ProcessModel(
            process_key=info.key, properties=dict(info.properties), outcomes=dict(info.outcomes),
            topics=tuple(dict.fromkeys(info.topics.values())), candidate_groups=info.candidate_groups,
            task_properties={tid: dict(task.properties) for tid, task in info.user_tasks.items()})

    def definition_xml(self, definition_id: str) -> str:
        with self._read(snapshot=False) as conn:
            row = conn.execute(_Sql.definition, {"definition_id": definition_id}).first()
        if row is None:
            raise NotFound(f"process definition {definition_id} was not found")
        return row.xml

    def latest_definition_id(self, process_key: str) -> str:
        with self._read(snapshot=False) as conn:
            row = self._latest_definition_row(conn, process_key)
        if row is None:
            raise NotFound(f"no process {process_key!r} is deployed on the {self.name}")
        return row.id

    def check(self) -> None:
        with self._read(snapshot=False) as conn:
            conn.execute(sql_select(t.definitions.c.id).limit(1)).first()

    # ------------------------------------------------------------------ waiting

    def _ensure_listener(self) -> None:
        if not self._listen or self._closed:
            return
        with self._cv:
            if self._listener is None or not self._listener.is_alive():
                self._listener = _PgListener(self._db, NOTIFY_CHANNEL, self._wake)
                self._listener.start()

    def interrupt_waits(self) -> None:
        with self._cv:
            self._interrupts += 1
            self._cv.notify_all()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.interrupt_waits()
        listener = self._listener
        if listener is not None:
            listener.stop()


class _Row:
    """Attribute access over an instance dict (what ``_restore`` reads)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class _PgListener(threading.Thread):
    """LISTENs on PostgreSQL and calls ``on_notify`` for every notification (and after each reconnect)."""

    def __init__(self, db: Engine, channel: str, on_notify: Callable[[], None]) -> None:
        super().__init__(name="pflow-wf-listen", daemon=True)
        self._db = db
        self._channel = channel
        self._on_notify = on_notify
        self._stop = threading.Event()
        self.listening = False

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg2
        import psycopg2.extensions

        backoff = 0.5
        while not self._stop.is_set():
            conn = None
            try:
                cargs, cparams = self._db.dialect.create_connect_args(self._db.url)
                conn = psycopg2.connect(*cargs, **cparams)
                conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {self._channel}")
                self.listening = True
                backoff = 0.5
                self._on_notify()  # anything that happened while we were not listening
                while not self._stop.is_set():
                    ready, _, _ = select.select([conn], [], [], 1.0)
                    if ready:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self._on_notify()
            except Exception as exc:  # reconnect: the database may be restarting
                self.listening = False
                log.warning("embedded engine: LISTEN connection lost (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.listening = False
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
