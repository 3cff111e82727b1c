"""The process ports: where a ticket's flow lives.

Split by who uses them, as Camunda 7 splits its own API: ``ProcessEngine`` for the service layer
(start an instance with the ticket's variables, read its open user tasks, complete one, cancel, look
at the instance), ``ExternalTasks`` for workers (fetch and lock, complete, fail). One adapter usually
implements both. No name of a particular process appears here: task ids, topics and variables come
from the BPMN and the ticket-type files.

Implemented by the in-memory engine, the embedded SpiffWorkflow engine and Camunda 7 / Operaton over
REST; the contract suites in tests/contract/ run on each.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from pflow.domain.errors import ConcurrencyConflict, NotFound, ValidationError
from pflow.domain.steps import FormField


class TaskNotFound(NotFound):
    """No such task, or it is already completed."""


class TaskLockedByOtherWorker(ConcurrencyConflict):
    """The external task is locked by another worker (or the caller's lock has expired)."""


class TaskClaimedByOther(ConcurrencyConflict):
    """The user task is assigned to someone else (``assignee`` names them), so it cannot be claimed."""

    def __init__(self, message: str, *, assignee: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.assignee = assignee


class DeploymentRejected(ValidationError):
    """The engine refused the BPMN; the message names the file, element and reason."""


class InstanceState:
    ACTIVE = "active"
    COMPLETED = "completed"  # reached an end event
    TERMINATED = "terminated"  # cancelled (withdrawn, compensation) or ended by an operator
    INCIDENT = "incident"  # active, but an automated step used up its retries


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    process_key: str
    definition_id: str
    version: int
    created: bool = True  # False when the same content was deployed before (no new version)


@dataclass(frozen=True)
class ProcessInstance:
    id: str
    business_key: str
    process_key: str
    definition_id: str
    created: bool  # False when start found an instance of the key that was already running


@dataclass(frozen=True)
class UserTask:
    id: str
    definition_key: str  # the task's id in the BPMN
    name: str
    business_key: str
    process_instance_id: str
    process_key: str
    candidate_groups: tuple[str, ...] = ()
    candidate_users: tuple[str, ...] = ()
    assignee: str | None = None
    due: datetime | None = None
    created_at: datetime | None = None
    form: tuple[FormField, ...] = ()

    @property
    def decision_field(self) -> FormField | None:
        return next((f for f in self.form if f.is_decision), None)


@dataclass(frozen=True)
class CompletedTask:
    id: str
    definition_key: str
    name: str
    completed_by: str | None
    completed_at: datetime | None


@dataclass(frozen=True)
class ExternalTask:
    id: str
    topic: str
    business_key: str
    process_instance_id: str
    activity_id: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None  # None until the first failure is reported (Camunda's convention)
    error_message: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    activity_name: str = ""


@dataclass(frozen=True)
class InstanceView:
    """The latest instance of a business key, running or ended."""

    instance_id: str
    business_key: str
    process_key: str
    definition_id: str
    state: str  # one of InstanceState
    active_activity_ids: tuple[str, ...]
    completed_activity_ids: tuple[str, ...]
    variables: dict[str, Any] = field(default_factory=dict)
    incidents: tuple[str, ...] = ()  # activity ids with an incident
    end_activity_id: str | None = None  # the end event reached, when COMPLETED
    #: names of the activities, for the ones the ticket shows (open steps, automated steps)
    activity_names: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None


@dataclass(frozen=True)
class InstanceProgress:
    """Where the key's latest instance is and what is open in it, read together (``ProcessEngine.progress``)."""

    instance_id: str
    definition_id: str
    state: str  # one of InstanceState
    tasks: tuple[UserTask, ...] = ()  # open user tasks, oldest first (running instances only)
    automated: tuple[ExternalTask, ...] = ()  # open external tasks, incidents included
    end_activity_id: str | None = None  # the end event reached, when COMPLETED
    started_at: datetime | None = None
    #: with ``history=True``: the completed user tasks, oldest first, and the instance's variables
    completed: tuple[CompletedTask, ...] | None = None
    variables: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.state in (InstanceState.ACTIVE, InstanceState.INCIDENT)


@dataclass(frozen=True)
class ProcessModel:
    """What PFlow reads from a deployed BPMN beyond running it."""

    process_key: str
    #: extension properties of the process (``camunda:properties``), e.g. ``pflow.fourEyes``
    properties: dict[str, str]
    #: end event id -> its ``pflow.outcome`` property (``completed`` when the event has none)
    outcomes: dict[str, str]
    #: topics of the external service tasks
    topics: tuple[str, ...]
    #: every candidate group a user task names (literal ones; expressions are resolved per instance)
    candidate_groups: tuple[str, ...]
    #: per user task id, its extension properties (e.g. ``pflow.fourEyes`` on one step)
    task_properties: dict[str, dict[str, str]] = field(default_factory=dict)


class ProcessEngine(abc.ABC):
    """A BPMN engine as the service layer sees it.

    Every method raises ``EngineUnavailable`` (naming the engine) when the engine cannot be reached;
    then nothing changed in it that the caller has to undo, unless the method says otherwise.
    """

    name: str = "workflow engine"

    @abc.abstractmethod
    def deploy(self, bpmn_path: Path | str) -> list[Deployment]:
        """Deploy every executable process of a BPMN file. By content: deploying an unchanged file
        again creates no new version (``created=False``), and a file never replaces a newer version
        with older content. Running instances keep the version they started on.
        Raises ``DeploymentRejected`` with the engine's reason."""

    @abc.abstractmethod
    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        """Start the latest version of ``process_key`` for a business key, with typed variables
        (str, int, float, Decimal, bool, date, None). Idempotent: when an instance for the key is
        still running it is returned (``created=False``) and no second instance starts."""

    @abc.abstractmethod
    def cancel(self, business_key: str, reason: str) -> bool:
        """Stop the running instance for the key, if any. Returns whether one was stopped."""

    @abc.abstractmethod
    def open_tasks(self, business_key: str) -> list[UserTask]:
        """The open user tasks of the key's running instance (several when parallel), oldest first."""

    @abc.abstractmethod
    def task(self, task_id: str) -> UserTask:
        """One open user task. Raises ``TaskNotFound`` when it does not exist or is completed."""

    @abc.abstractmethod
    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        """Complete an open user task with variables, recording ``completed_by`` as its assignee.
        Exactly one of two concurrent completions succeeds; the other raises ``TaskNotFound`` or
        ``ConcurrencyConflict``."""

    @abc.abstractmethod
    def claim(self, task_id: str, user: str) -> None:
        """Make ``user`` the assignee of an open user task that has none (Camunda's claim). Claiming a task
        ``user`` holds already changes nothing. Raises ``TaskClaimedByOther`` when someone else holds it (of
        two concurrent claims exactly one wins), ``TaskNotFound`` when it does not exist or is completed."""

    @abc.abstractmethod
    def unclaim(self, task_id: str) -> None:
        """Clear the assignee of an open user task, so its candidates see it again (whoever held it, and also
        when nobody did). Raises ``TaskNotFound``."""

    @abc.abstractmethod
    def set_assignee(self, task_id: str, user: str | None) -> None:
        """Make ``user`` the assignee of an open user task whoever holds it now (None: nobody), as an
        admin's reassignment does; the service decides who may. Raises ``TaskNotFound``."""

    @abc.abstractmethod
    def set_due(self, task_id: str, due: datetime) -> None:
        """Give an open user task a due time (an aware datetime), keeping everything else about it
        (name, assignee, candidates). What PFlow calls when the BPMN gives a task no ``camunda:dueDate``
        and the ticket type does. Raises ``TaskNotFound`` when the task does not exist or is completed."""

    @abc.abstractmethod
    def instance(self, business_key: str) -> InstanceView | None:
        """The latest instance for the key (running or ended), or None if none was started."""

    @abc.abstractmethod
    def automated_steps(self, business_key: str) -> list[ExternalTask]:
        """The open external tasks of the key's running instance, locked or not; those whose retries
        are used up (``retries == 0``) are incidents."""

    def progress(self, business_key: str, *, history: bool = False) -> InstanceProgress | None:
        """The key's latest instance with its open user tasks and automated steps, or None if none was
        started; with ``history`` also its completed user tasks and variables. What the service reads
        after every command: adapters answer it in one read (one transaction, or as few requests as the
        engine's API allows). This composition of the single queries is the reference behaviour."""
        view = self.instance(business_key)
        if view is None:
            return None
        running = view.state in (InstanceState.ACTIVE, InstanceState.INCIDENT)
        return InstanceProgress(
            instance_id=view.instance_id, definition_id=view.definition_id, state=view.state,
            tasks=tuple(self.open_tasks(business_key)) if running else (),
            automated=tuple(self.automated_steps(business_key)) if running else (),
            end_activity_id=view.end_activity_id, started_at=view.started_at,
            completed=tuple(self.completed_tasks(business_key)) if history else None,
            variables=dict(view.variables) if history else None)

    @abc.abstractmethod
    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        """The user tasks of the key's latest instance that were completed, oldest first, with who
        completed them (``completed_by`` of ``complete_task``, or the engine's assignee)."""

    @abc.abstractmethod
    def retry_step(self, task_id: str, retries: int) -> None:
        """Give a failed external task ``retries`` again (resolving its incident). Raises ``TaskNotFound``."""

    @abc.abstractmethod
    def model(self, definition_id: str) -> ProcessModel:
        """What PFlow reads from a deployed definition (see ``ProcessModel``). Raises ``NotFound``."""

    @abc.abstractmethod
    def definition_xml(self, definition_id: str) -> str:
        """The BPMN XML of a deployed definition. Raises ``NotFound``."""

    @abc.abstractmethod
    def latest_definition_id(self, process_key: str) -> str:
        """The id of the newest deployed version of a process. Raises ``NotFound``."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the engine answers, else raise ``EngineUnavailable``."""

    def close(self) -> None:
        """Release connections and threads. Idempotent."""


class ExternalTasks(abc.ABC):
    """Camunda-style external tasks, as workers see them (the same errors as ``ProcessEngine``)."""

    name: str = "workflow engine"

    @abc.abstractmethod
    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        """Lock up to ``max_tasks`` available tasks of the topics for the worker. Available: not
        locked (or the lock expired), retries None or > 0, retry timeout passed. With ``wait_ms`` > 0
        wait up to that long for one (long polling). Never locked by two workers at once."""

    @abc.abstractmethod
    def external_task(self, task_id: str) -> ExternalTask:
        """One open external task by id (locked or not, incidents included), as ``fetch_and_lock`` shows it:
        its holder while the lock lasts, its business key, retries and last error; ``variables`` are the
        instance's where the adapter reads them with the task (the embedded engine), else empty.
        ``TaskNotFound`` when it does not exist or is completed."""

    @abc.abstractmethod
    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        """Complete a task this worker holds. ``TaskLockedByOtherWorker`` when another holds it,
        ``TaskNotFound`` when it does not exist or is completed."""

    @abc.abstractmethod
    def fail(self, task_id: str, worker_id: str, error_message: str, *, retries: int, retry_timeout_ms: int,
             error_details: str | None = None) -> None:
        """Report a failed attempt; retries become ``retries`` (0: incident). Same errors as complete."""

    @abc.abstractmethod
    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, *, error_message: str | None = None,
                   variables: dict[str, Any] | None = None) -> None:
        """Report a business error (Camunda's ``bpmnError``): the task ends and an error boundary event
        catching ``error_code`` takes over, on the task or else on the nearest enclosing subprocess or call
        activity; with none the execution ends there, as Camunda 7 ends it. ``variables`` are set on the
        instance first. Same errors as complete."""

    @abc.abstractmethod
    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        """Extend the worker's lock to now + ``new_duration_ms``. Same errors as complete."""

    @abc.abstractmethod
    def unlock(self, task_id: str, worker_id: str) -> None:
        """Release the worker's lock without spending a retry (the worker could not try: its own
        infrastructure was down). The task is fetchable again at once."""

    def interrupt_waits(self) -> None:
        """Make waiting ``fetch_and_lock`` calls of this process return now (with no tasks)."""

    def close(self) -> None:
        """Release connections and threads. Idempotent."""


class TimerJobs(abc.ABC):
    """An engine whose timer events fire in PFlow's own processes (the embedded engine): ``pflow serve``
    and every ``pflow worker`` call ``fire_due_timers`` now and then. Camunda and Operaton fire theirs in
    their own job executor, so their adapters do not implement this."""

    @abc.abstractmethod
    def fire_due_timers(self, *, limit: int = 100) -> list[str]:
        """Fire the timers due by now (late ones too, after downtime), each exactly once across every
        process sharing the database, and move their instances on. Returns the business keys of the
        instances that moved, so their tickets follow at once."""

    @abc.abstractmethod
    def next_timer_due(self) -> datetime | None:
        """When the earliest waiting timer is due (None when none waits)."""
