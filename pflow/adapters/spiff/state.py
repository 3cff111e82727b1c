"""An instance's state: SpiffWorkflow's JSON restored and written back, with the side tables of open
user and external tasks kept in line with it, and the definitions it runs on (parsed once).

Candidate groups and users, assignee and due date of a user task are resolved when the task is
created, as Camunda does: literal values as written, ``${...}`` over the process variables with the
evaluator the gateways use (``expressions``); forms and properties come from the shared BPMN reader.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any, Callable

from sqlalchemy.engine import Connection
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from pflow.adapters.bpmn.reader import ProcessDefinitionInfo, read_processes
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
from pflow.adapters.spiff.statements import Sql
from pflow.adapters.spiff.timers import due_ms_of, is_timer
from pflow.adapters.spiff.transactions import Tx
from pflow.adapters.spiff.values import datetime_of, due_ms, ms_of
from pflow.domain.errors import NotFound, ValidationError
from pflow.ports.process import CompletedTask, InstanceState

RUNNING = (InstanceState.ACTIVE, InstanceState.INCIDENT)
_VERSION_KEY = "serializer_version"


class Definition:
    """A deployed definition, parsed once per process (definitions never change)."""

    def __init__(self, row: Any, parsed: ParsedDefinition, info: ProcessDefinitionInfo) -> None:
        self.id = row.id
        self.process_key = row.process_key
        self.version = row.version
        self.parsed = parsed
        self.info = info  # what the shared BPMN reader sees: forms, candidates, outcomes, properties
        # Whether any of its processes waits on time: instances of one that does not never touch wf_timers.
        self.has_timers = any(is_timer(task_spec) for spec in [parsed.spec, *parsed.subprocess_specs.values()]
                              for task_spec in spec.task_specs.values())



def end_of(row: Any, info: ProcessDefinitionInfo) -> str | None:
    """The end event a completed instance reached (None while it runs or when it was stopped)."""
    if row.state != InstanceState.COMPLETED:
        return None
    return next((h[0] for h in reversed(row.history) if h[0] in info.outcomes), None)


def completed_of(row: Any, info: ProcessDefinitionInfo) -> list[CompletedTask]:
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
                                  completed_at=datetime_of(entry[1])))
    return done


def _with_called(info: ProcessDefinitionInfo, called: ProcessDefinitionInfo) -> ProcessDefinitionInfo:
    """What the reader sees of a process and of a process it calls: the called one's user tasks, topics and
    names count as the caller's (they run in its instance); its end events are not the caller's outcomes."""
    return replace(info, user_tasks={**called.user_tasks, **info.user_tasks}, topics={**called.topics, **info.topics},
                   names={**called.names, **info.names},
                   error_variables={**called.error_variables, **info.error_variables})


class InstanceStates:
    """Definitions and instance state of one engine object."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._serializer = make_serializer()
        self.conditions = ConditionEngine(clock)
        self._definitions: dict[str, Definition] = {}
        self._definitions_lock = threading.Lock()

    # ============================================================ definitions

    def definition(self, conn: Connection, definition_id: str) -> Definition:
        cached = self._definitions.get(definition_id)
        if cached is not None:
            return cached
        row = conn.execute(Sql.definition, {"definition_id": definition_id}).first()
        if row is None:
            raise NotFound(f"process definition {definition_id} was not found")
        called: dict[str, str] = {}
        info = read_processes(row.xml, row.source_name)[row.process_key]
        for key, called_id in sorted((getattr(row, "called", None) or {}).items()):
            other = conn.execute(Sql.definition, {"definition_id": called_id}).first()
            if other is None:
                raise NotFound(f"process definition {called_id}, called by {definition_id}, was not found")
            called[key] = other.xml
            info = _with_called(info, read_processes(other.xml, other.source_name)[key])
        for key, other_info in read_processes(row.xml, row.source_name).items():
            if key != row.process_key:  # processes of the same file a call activity may call
                info = _with_called(info, other_info)
        parsed = load_definition(row.xml, row.source_name, row.process_key, called)
        with self._definitions_lock:
            return self._definitions.setdefault(definition_id, Definition(row, parsed, info))

    def latest_definition_row(self, conn: Connection, process_key: str):
        return conn.execute(Sql.latest_definition, {"process_key": process_key}).first()

    # ============================================================ instance state

    def restore(self, conn: Connection, row: Any) -> BpmnWorkflow:
        definition = self.definition(conn, row.definition_id)
        dct = json.loads(row.serialized)
        # A state written by an older SpiffWorkflow is brought up to date first (it holds no spec).
        self._serializer.migrate(dct)
        # Instances are stored without their spec: it is parsed from the definition's XML by the running
        # SpiffWorkflow version and goes back in as the object itself. The serializer leaves objects it does
        # not recognise untouched, and instances share specs as BpmnWorkflow(spec) does.
        dct["spec"] = definition.parsed.spec
        dct["subprocess_specs"] = dict(definition.parsed.subprocess_specs)
        workflow = self._serializer.from_dict(dct)
        workflow.script_engine = self.conditions  # not serialized: attach it again after every restore
        workflow.pflow_variables = row.variables  # the process scope expressions see (see ConditionEngine)
        return workflow

    def serialize(self, workflow: BpmnWorkflow) -> str:
        dct = self._serializer.to_dict(workflow)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        dct[_VERSION_KEY] = self._serializer.VERSION
        return json.dumps(dct, separators=(",", ":"))

    @staticmethod
    def completed_ids(workflow: BpmnWorkflow) -> set:
        return {task.id for task in workflow.get_tasks(state=TaskState.COMPLETED)
                if getattr(task.task_spec, "bpmn_id", None)}

    @staticmethod
    def run_steps(workflow: BpmnWorkflow, action: Callable[[], None] | None = None) -> None:
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

    def save(self, tx: Tx, inst: dict[str, Any], workflow: BpmnWorkflow, before: set, actor: str | None,
              *, new: bool = False) -> None:
        """Write the instance and bring its open-task side tables in line with the SpiffWorkflow state."""
        conn, now = tx.conn, ms_of(self._clock())
        newly, open_user, open_external, waiting = [], [], [], []
        for task in workflow.get_tasks():  # one walk over the task tree
            spec = task.task_spec
            if task.state == TaskState.COMPLETED:
                if task.id not in before and getattr(spec, "bpmn_id", None) and not isinstance(spec, MultiInstanceTask):
                    newly.append(task)  # a multi-instance body is not an activity of its own: its instances are
            elif task.state == TaskState.WAITING and is_timer(spec):
                due = due_ms_of(task)
                if due is not None:
                    waiting.append((task, due))
            elif task.state == TaskState.READY and isinstance(spec, ApprovalUserTaskSpec):
                open_user.append(task)
            elif task.state == TaskState.STARTED and isinstance(spec, ExternalTaskSpec):
                open_external.append(task)
        newly.sort(key=lambda task: (task.last_state_change, task.depth))
        history = list(inst["history"])
        if newly and history:  # a task SpiffWorkflow reports as newly completed once more is recorded once
            recorded = {entry[3] for entry in history if len(entry) > 3}
            newly = [task for task in newly if str(task.id) not in recorded]
        for task in newly:
            by = actor if isinstance(task.task_spec, (ApprovalUserTaskSpec, ExternalTaskSpec)) else None
            history.append([task.task_spec.bpmn_id, ms_of(task.last_state_change), by, str(task.id)])

        if new:
            existing_user: set[str] = set()
            existing_external: dict[str, int | None] = {}
        else:
            existing_user = set(conn.execute(Sql.user_tasks_of_instance, {"instance_id": inst["id"]}).scalars())
            existing_external = dict(conn.execute(Sql.external_tasks_of_instance,
                                                  {"instance_id": inst["id"]}).all())

        user_ids = {str(task.id) for task in open_user}
        external_ids = {str(task.id) for task in open_external}
        gone_user = existing_user - user_ids
        if gone_user:
            conn.execute(Sql.delete_groups, {"ids": sorted(gone_user)})
            conn.execute(Sql.delete_user_tasks, {"ids": sorted(gone_user)})
        gone_external = set(existing_external) - external_ids
        if gone_external:
            conn.execute(Sql.delete_external_tasks, {"ids": sorted(gone_external)})

        completed = workflow.is_completed()
        state = inst["state"]
        if completed:
            state = InstanceState.COMPLETED
        elif state in RUNNING:
            stuck = any(existing_external[i] == 0 for i in external_ids if i in existing_external)
            state = InstanceState.INCIDENT if stuck else InstanceState.ACTIVE
        values = dict(
            state=state,
            running_key=inst["business_key"] if state in RUNNING else None,
            variables=inst["variables"],
            active_activity_ids=[task.task_spec.bpmn_id for task in open_user + open_external],
            history=history,
            serialized=self.serialize(workflow),
            revision=inst["revision"] + 1,
            updated_ms=now,
            ended_ms=now if state not in RUNNING else None,
        )
        if new:
            conn.execute(Sql.insert_instance, dict(
                id=inst["id"], business_key=inst["business_key"], process_key=inst["process_key"],
                definition_id=inst["definition_id"], started_ms=now, end_reason=None, **values))
        else:
            conn.execute(Sql.update_instance, {"_instance_id": inst["id"], **values})

        if not new and self.definition(conn, inst["definition_id"]).has_timers:
            conn.execute(Sql.delete_timers_of_instance, {"instance_id": inst["id"]})
        if waiting and state in RUNNING:
            conn.execute(Sql.insert_timer, [dict(task_id=str(task.id), instance_id=inst["id"],
                                                 business_key=inst["business_key"], activity_id=task.task_spec.bpmn_id,
                                                 due_ms=due) for task, due in waiting])

        definition = self.definition(conn, inst["definition_id"]) if open_user else None
        for task in open_user:
            task_id = str(task.id)
            if task_id in existing_user:
                continue
            spec: ApprovalUserTaskSpec = task.task_spec
            groups, users, assignee, due = self.resolve_candidates(definition, spec.bpmn_id,
                                                                   self.conditions.variables(task), now)
            conn.execute(Sql.insert_user_task, dict(
                id=task_id, instance_id=inst["id"], business_key=inst["business_key"], activity_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id, candidate_groups=",".join(groups),
                assignee=assignee, created_ms=now, process_key=inst["process_key"],
                definition_id=inst["definition_id"], candidate_users=",".join(users), due_ms=due))
            if groups:
                conn.execute(Sql.insert_group, [{"group_name": g, "task_id": task_id} for g in groups])
        for task in open_external:
            task_id = str(task.id)
            if task_id in existing_external:
                continue
            conn.execute(Sql.insert_external_task, dict(
                id=task_id, instance_id=inst["id"], business_key=inst["business_key"],
                activity_id=task.task_spec.bpmn_id, topic=task.task_spec.topic, worker_id=None, lock_expires_ms=None,
                retries=None, available_ms=0, error_message=None, error_details=None, created_ms=now,
                process_key=inst["process_key"], definition_id=inst["definition_id"]))
            tx.wake = True
            tx.created.append(task_id)

    @staticmethod
    def resolve_candidates(definition: Definition, activity_id: str, variables: dict[str, Any], now: int):
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
            due = due_ms(evaluate_value(info.due_date, variables), now, where)
        except (ExpressionFailed, ExpressionRejected) as exc:
            raise ValidationError(f"{where}: {exc}") from None
        assignee = str(assignee).strip() if assignee not in (None, "") else None
        return groups, users, assignee or None, due


class Row:
    """Attribute access over an instance dict (what ``_restore`` reads)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


